"""Rule decode: ridge from one ROI to z, c or BLIP's tokens for one subject; test predictions and scores.

A target space whose blocks would not fit decode.memory_mb at once is streamed from its file (``decode.stream``).
"""
from pathlib import Path

import numpy as np
import pandas as pd

from sdbrain.data.ingest import load_betas
from sdbrain.data.io import atomic_file, load_rows, save_array, write_ids
from sdbrain.linear import ridge
from sdbrain.linear.decode import average_by_image, decode, fits_in_memory, stream
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, out = snakemake.params, snakemake.output
    subject, target = snakemake.wildcards.subject, snakemake.wildcards.target
    betas_dir = Path(snakemake.input.train_ids).parent
    x_train, train_ids, voxels = load_betas(betas_dir, p.roi, "train")
    x_test, test_ids, _ = load_betas(betas_dir, p.roi, "test")
    if p.decode.get("train_on", "trials") == "images":  # the released VGG19 decoders: per-image averaged betas
        x_train, train_ids = average_by_image(x_train, train_ids)
        log.info("training betas averaged per image: %d images", len(train_ids))
    features, feature_ids = load_rows(snakemake.input.features, snakemake.input.features_ids, mmap=True)
    log.info("%s: %s (%d voxels, %d train trials, %d test images) -> %s (%d targets)", subject, p.roi,
             x_train.shape[1], len(train_ids), len(test_ids), target, features.shape[1])
    settings = ridge.Settings.pick(p.decode)
    if fits_in_memory(p.decode["memory_mb"], len(train_ids), x_train.shape[1], len(test_ids), features.shape[1],
                      len(settings.alphas)):
        result = decode(x_train, train_ids, x_test, test_ids, features, feature_ids, settings, snakemake.input.features)
        save_array(out.prediction, result.prediction)
    else:
        log.info("streamed in blocks of targets within decode.memory_mb = %s", p.decode["memory_mb"])
        with atomic_file(out.prediction, ".npy") as tmp:
            result = stream(x_train, train_ids, x_test, test_ids, snakemake.input.features, feature_ids, settings,
                            p.decode["memory_mb"], tmp)
    low, high = result.edges
    log.info("backend %s; chosen alphas: %s", result.backend,
             dict(zip(*np.unique(result.alphas, return_counts=True))))
    for edge, fraction in (("smallest", low), ("largest", high)):
        if fraction > p.decode["edge_warning"]:
            log.warning("%.0f%% of the %s alphas are the grid's %s value: widen decode.alphas", 100 * fraction, target, edge)
    log.info("test r: mean over targets %.3f, mean over images %.3f", np.nanmean(result.target_r), np.nanmean(result.image_r))
    write_ids(out.prediction_ids, test_ids)
    np.save(out.alphas, result.alphas)
    pd.DataFrame({"target": np.arange(len(result.target_r)), "alpha": result.alphas, "r": result.target_r}).to_csv(
        out.target_scores, sep="\t", index=False)
    pd.DataFrame({"nsd_id": test_ids, "r": result.image_r}).to_csv(out.image_scores, sep="\t", index=False)


job.run(main, snakemake)
