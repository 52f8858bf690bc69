"""Rule toy_grid: the functional grid (mask, streams labels, affine) of pycortex's demo subject."""
import warnings

import numpy as np

from sdbrain.maps.pycortex_env import demo_grid, import_cortex
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    cortex = import_cortex(p.pycortex_dir, subjects=(p.subject,))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # pycortex warns about empty ROI layers of the demo subject
        grid = demo_grid(cortex, p.subject, p.xfm, {int(k): v for k, v in p.streams.items()})
    labels, counts = np.unique(grid["streams"][grid["mask"]], return_counts=True)
    log.info("grid %s: %d brain voxels; streams label counts %s", grid["mask"].shape, grid["mask"].sum(),
             dict(zip(labels.tolist(), counts.tolist())))
    np.savez(snakemake.output[0], **grid)


job.run(main, snakemake, keys={"streams": "toy.streams"})
