"""Rules fig3 / fig4: originals and reconstructions of the first test images.

fig3 (one subject): rows original, X_z, X_c, X_zc.  fig4: original and X_zc of every subject.
"""
from sdbrain.data import nsd
from sdbrain.data.io import read_ids
from sdbrain.maps import figures
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    ids = read_ids(snakemake.input.test_ids)[: p.n_images]
    rows = {"original": list(nsd.read_images(nsd.Layout(p.nsd_root), ids))}
    for label, manifest in zip(p.labels, snakemake.input.manifests):
        rows[label] = figures.first_samples(manifest, ids)
    figures.image_grid(rows, [f"73k id {i}" for i in ids], snakemake.output.png, p.title, p.note)
    log.info("%s: %d images x %d rows", snakemake.output.png, len(ids), len(rows))


job.run(main, snakemake)
