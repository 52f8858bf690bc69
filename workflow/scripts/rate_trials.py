"""Rule rate_trials: the rating trial set (trials.tsv, session.json, images/) from the reconstruction manifests."""
from pathlib import Path

import pandas as pd

from sdbrain.data import nsd
from sdbrain.rate import trials
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    params = snakemake.params
    manifests = {(s, m): pd.read_csv(path, sep="\t") for (s, m), path in zip(params.pairs, snakemake.input.manifests)}
    ids = sorted({int(i) for m in manifests.values() for i in m["nsd_id"]})
    originals = dict(zip(ids, nsd.read_images(nsd.Layout(params.nsd_root), ids)))
    out = Path(snakemake.output.trials).parent
    table = trials.build(manifests, originals, out, params.rate["n_images"], params.rate["trials_per_rater"],
                         params.rate["seed"])
    log.info("%d trials (%d subjects x %d methods) -> %s", len(table), table["subject"].nunique(),
             table["method"].nunique(), out)


job.run(main, snakemake)
