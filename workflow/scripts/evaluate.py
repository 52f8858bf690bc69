"""Rule evaluate: features of one subject's reconstructions (one method) and their per-image scores."""
import numpy as np

from sdbrain.data import nsd
from sdbrain.data.io import read_ids
from sdbrain.errors import InputError
from sdbrain.evaluation import evaluate, recipes
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup
from sdbrain.workflow.spaces import parse_method


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params.evaluate
    w = snakemake.wildcards
    ids = read_ids(snakemake.input.test_ids)
    originals = np.load(snakemake.input.originals)
    if not np.array_equal(originals["ids"], ids):
        raise InputError(f"{snakemake.input.originals}: test ids differ from {snakemake.input.test_ids}")
    recon = evaluate.read_reconstructions(snakemake.input.manifest, ids)
    chosen = recipes.selected(p["recipes"])
    networks, random = evaluate.load_networks(p["weights"], p["seed"], p["clip_random"])
    features = evaluate.extract_samples(recon, networks, chosen, p["batch_size"])
    images = nsd.read_images(nsd.Layout(snakemake.params.nsd_root), ids)
    scores = evaluate.score(images, originals, recon, features, ids, chosen)
    method, strength = parse_method(w.method)
    scores.insert(0, "subject", w.subject)
    scores.insert(1, "method", w.method)
    scores.insert(2, "strength", strength if strength is not None else np.nan)
    scores["random_weights"] = ",".join(random)
    scores.to_csv(snakemake.output[0], sep="\t", index=False)
    means = scores.groupby(["protocol", "metric"], sort=False)["value"].mean()
    log.info("%s %s: %d images x %d samples\n%s", w.subject, w.method, recon.shape[0], recon.shape[1], means.to_string())


job.run(main, snakemake)
