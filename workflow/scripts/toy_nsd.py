"""Rule toy_nsd: write the miniature NSD in the real layout, and its ground truth."""
from pathlib import Path

import numpy as np

from sdbrain.toy.world import write_toy_nsd
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    grid = dict(np.load(snakemake.input.grid))
    write_toy_nsd(Path(snakemake.output.root), Path(snakemake.output.truth), grid, snakemake.params.toy)
    log.info("toy NSD written to %s (truth in %s)", snakemake.output.root, snakemake.output.truth)


job.run(main, snakemake)
