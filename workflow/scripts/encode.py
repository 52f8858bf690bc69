"""Rule encode: whole-brain voxel-wise ridge from z or c; r, p and FDR maps."""
from pathlib import Path

import numpy as np

from sdbrain.linear import encode, encode_maps
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, w = snakemake.params, snakemake.wildcards
    data = encode.responses(Path(snakemake.input.train_ids).parent)
    x = encode.reduced_space(snakemake.input.features, snakemake.input.features_ids, data, p.encode["pca_components"],
                             p.encode["seed"])
    log.info("%s %s: %d features (PCA: %s) -> %d voxels; %d train trials of %d images, %d test images", w.subject,
             w.space, x.train.shape[1], "yes" if x.explained_variance.size else "no", len(data.columns),
             len(data.train_rows), len(data.train_images), len(data.test_ids))
    result = encode.fit(x, data, encode.Settings.pick(p.encode))
    log.info("backend %s; r: median %.3f, max %.3f; %d of %d voxels significant (BH-FDR q=%g)", result.backend,
             np.nanmedian(result.r), np.nanmax(result.r), result.significant.sum(), len(result.r), p.encode["fdr_q"])
    volume, ceiling = encode_maps.volume_and_ceiling(p.nsd_root, w.subject, p.sessions, data)
    encode_maps.write_single(x, result, volume, ceiling, dict(snakemake.output.items()),
                             f"{w.subject}: r of the {w.space} model", p.encode["fdr_q"])


job.run(main, snakemake)
