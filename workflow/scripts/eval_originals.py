"""Rule eval_originals: evaluation features of the original test images (every recipe of evaluate.recipes)."""
import numpy as np

from sdbrain.data import nsd
from sdbrain.data.io import read_ids
from sdbrain.evaluation import evaluate, recipes
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params.evaluate
    ids = read_ids(snakemake.input.test_ids)
    networks, random = evaluate.load_networks(p["weights"], p["seed"], p["clip_random"])
    if random:
        log.warning("seeded RANDOM weights for %s (no local weights in config evaluate.weights): "
                    "identification with them tests the code path, not image similarity", ", ".join(random))
    images = nsd.read_images(nsd.Layout(snakemake.params.nsd_root), ids)
    features = evaluate.extract(images, networks, recipes.selected(p["recipes"]), p["batch_size"])
    np.savez(snakemake.output[0], ids=ids, random_weights=np.array(random), **features)
    log.info("%d originals: %s", len(ids), {k: v.shape[1] for k, v in features.items()})


job.run(main, snakemake)
