"""Rule features_merge: concatenate the chunks of one feature space (rows = stimuli)."""
import os

import numpy as np
from numpy.lib.format import open_memmap

from sdbrain.errors import guarded
from sdbrain.io import load_rows, write_ids
from sdbrain.logs import setup


def main():
    log = setup(snakemake.log[0])
    parts = [load_rows(v, i, mmap=True) for v, i in zip(snakemake.input.values, snakemake.input.ids)]
    n = sum(len(ids) for _, ids in parts)
    tmp = snakemake.output.values + ".tmp.npy"
    out = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, parts[0][0].shape[1]))
    row = 0
    for values, ids in parts:
        out[row:row + len(ids)] = values
        row += len(ids)
    out.flush()
    del out
    os.replace(tmp, snakemake.output.values)
    write_ids(snakemake.output.ids, np.concatenate([ids for _, ids in parts]))
    log.info("%s: %d stimuli x %d values", snakemake.wildcards.target, n, parts[0][0].shape[1])


guarded(main, snakemake.log[0])
