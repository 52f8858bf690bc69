"""Splitting a job's images into chunks (parallel jobs) made of whole batches."""
from __future__ import annotations

import numpy as np


def job_chunk(ids, k: int, n_chunks: int, batch_size: int):
    """Return the k-th (0-based) of ``n_chunks`` parts of ``ids``, made of whole batches.

    Batches are cut from the full list, and chunks gather whole batches, so every
    image meets the same batch companions whatever the number of chunks: on a CPU
    the results are then bit-identical for any chunking (batched arithmetic can
    round differently when the batch changes).
    """
    ids = np.asarray(ids)
    starts = np.arange(0, len(ids), batch_size)
    mine = np.array_split(starts, n_chunks)[k]
    if mine.size == 0:
        return ids[:0]
    return ids[mine[0]:min(mine[-1] + batch_size, len(ids))]
