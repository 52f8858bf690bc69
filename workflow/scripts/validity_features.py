"""Rule validity_features: the late evaluation feature (validity.feature) of the test images,
of every training image of every subject, and of every reconstruction the validity analysis
scores (the subjects' methods and the generated controls)."""
import numpy as np
import pandas as pd

from sdbrain.data import nsd
from sdbrain.data.io import read_ids
from sdbrain.evaluation import controls, evaluate
from sdbrain.evaluation.networks import load_network
from sdbrain.evaluation.validity_tables import LateFeatures
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup

BLOCK = 512  # training images read and passed at a time (NSD: tens of thousands)


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params.evaluate
    recipe = controls.late_recipe(snakemake.params.feature)
    name = recipe.features[0].network
    network = {name: load_network(name, p["weights"], p["seed"], p["clip_random"])}  # evaluate's random weights too
    if not p["weights"].get(name):
        log.warning("seeded RANDOM weights for %s (config evaluate.weights): the validity analysis tests the code path", name)
    layout = nsd.Layout(snakemake.params.nsd_root)
    key = snakemake.params.feature

    def features(images):
        return evaluate.extract(images, network, [recipe], p["batch_size"])[key]

    test_ids = read_ids(snakemake.input.test_ids)
    train_ids = np.unique(np.concatenate([read_ids(path) for path in snakemake.input.train_ids]))
    train = np.concatenate([features(nsd.read_images(layout, train_ids[i:i + BLOCK]))
                            for i in range(0, len(train_ids), BLOCK)])
    recon = {}
    for manifest, (source, method) in zip(snakemake.input.manifests, snakemake.params.reconstructions):
        listed = set(pd.read_csv(manifest, sep="\t")["nsd_id"])
        ids = np.array([i for i in test_ids if i in listed])
        images = evaluate.read_reconstructions(manifest, ids)
        flat = features(images.reshape(-1, *images.shape[2:]))
        recon[source, method] = (ids, flat.reshape(images.shape[0], images.shape[1], -1))
        log.info("%s %s: %d images x %d samples", source, method, *images.shape[:2])
    LateFeatures(test_ids, features(nsd.read_images(layout, test_ids)), train_ids, train, recon,
                 [] if p["weights"].get(name) else [name]).save(snakemake.output[0])
    log.info("%s of %d test and %d training images", key, len(test_ids), len(train_ids))


job.run(main, snakemake, keys={"feature": "validity.feature"})
