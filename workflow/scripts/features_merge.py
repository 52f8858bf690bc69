"""Rule features_merge: concatenate the chunks of one feature space (rows = stimuli)."""
import os

import numpy as np
from numpy.lib.format import open_memmap

from sdbrain.data.io import atomic_file, load_rows, write_ids
from sdbrain.errors import InputError
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def chunk_files(target):
    """(values, ids) paths of each chunk: z/c chunk files, or the space's file in each diffusion chunk folder."""
    if "folders" not in snakemake.input.keys():
        return list(zip(snakemake.input.values, snakemake.input.ids))
    parts = []
    for folder in snakemake.input.folders:
        values = os.path.join(folder, f"{target}.npy")
        if not os.path.exists(values):
            raise InputError(f"{folder}: no {target}.npy (denoising steps and U-Net layers are captured only at the "
                             "noise levels of config key 'encode.step_levels')")
        parts.append((values, os.path.join(folder, "ids.tsv")))
    return parts


def main():
    log = setup(snakemake.log[0])
    target = snakemake.wildcards.target
    parts = [load_rows(v, i, mmap=True) for v, i in chunk_files(target)]
    parts = [(values, ids) for values, ids in parts if len(ids)]  # chunks beyond the last batch are empty
    n = sum(len(ids) for _, ids in parts)
    width = parts[0][0].shape[1] if parts else 0
    with atomic_file(snakemake.output.values, ".npy") as tmp:
        out = open_memmap(tmp, mode="w+", dtype=np.float32, shape=(n, width))
        row = 0
        for values, ids in parts:
            out[row:row + len(ids)] = values
            row += len(ids)
        out.flush()
        del out
    write_ids(snakemake.output.values_ids, np.concatenate([ids for _, ids in parts]) if parts else [])
    log.info("%s: %d stimuli x %d values", target, n, width)


job.run(main, snakemake)
