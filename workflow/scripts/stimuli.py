"""Rule stimuli: every stimulus any analysed subject saw (train and test), sorted by 73k id."""
import numpy as np

from sdbrain.data.io import read_ids, write_ids
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    ids = np.unique(np.concatenate([read_ids(path) for path in snakemake.input]))
    write_ids(snakemake.output[0], ids)
    log.info("%d stimuli", len(ids))


job.run(main, snakemake)
