"""File contracts between stages: float32 arrays with the 73k ids of their rows.

Every array that crosses a stage boundary is a ``.npy`` file whose rows are
stimuli or trials; the 73k ids (1-based, as NSD's ``73KID``) of those rows sit
beside it in a one-column TSV. Readers check the ids instead of assuming an order.
"""
from __future__ import annotations

import os
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd

from sdbrain.errors import InputError

ID_COLUMN = "nsd_id"


@contextmanager
def atomic_dir(out: str | Path):
    """Yield a fresh folder ``<out>.tmp`` to fill; on success it replaces ``out``, on failure it is removed.

    A ``.tmp`` folder left by a killed attempt is removed first, so none of its files reach ``out``.
    """
    out = Path(out)
    tmp = out.with_name(out.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)


@contextmanager
def atomic_file(path: str | Path, suffix: str = ""):
    """Yield a temporary name ``<path>.tmp<suffix>`` to write; on success it replaces ``path``.

    On failure the temporary file is removed. ``suffix`` is for writers that append one, as ``np.save``
    appends '.npy'.
    """
    tmp = Path(f"{path}.tmp{suffix}")
    try:
        yield tmp
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, path)


def write_ids(path: str | Path, ids) -> None:
    """Write the 73k ids of an array's rows atomically: a one-column TSV (``nsd_id``), int64."""
    with atomic_file(path) as tmp:
        pd.DataFrame({ID_COLUMN: np.asarray(ids, dtype=np.int64)}).to_csv(tmp, sep="\t", index=False)


def read_ids(path: str | Path) -> np.ndarray:
    """Read a TSV of 73k ids written by ``write_ids``: (rows,) int64; InputError if missing or malformed."""
    path = Path(path)
    if not path.exists():
        raise InputError(f"{path}: id file is missing")
    table = pd.read_csv(path, sep="\t")
    if ID_COLUMN not in table:
        raise InputError(f"{path}: expected a column '{ID_COLUMN}', found {list(table.columns)}")
    return table[ID_COLUMN].to_numpy(np.int64)


def save_array(path: str | Path, array: np.ndarray) -> None:
    """Write float32 ``.npy`` atomically (temporary name, then rename); a failed write leaves nothing."""
    try:
        with atomic_file(path, ".npy") as tmp:
            np.save(tmp, np.asarray(array, dtype=np.float32))
    except OSError as err:  # e.g. the disk is full: no half-written file stays behind
        raise InputError(f"{path}: could not be written ({err.strerror or err})") from None


def load_rows(array_path: str | Path, ids_path: str | Path, expected_ids=None, mmap: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Load an array and its row ids; check they agree in length and, if given, with ``expected_ids``."""
    array = np.load(array_path, mmap_mode="r" if mmap else None)
    ids = read_ids(ids_path)
    if array.shape[0] != len(ids):
        raise InputError(f"{array_path}: {array.shape[0]} rows but {ids_path} lists {len(ids)} ids")
    if expected_ids is not None and not np.array_equal(ids, np.asarray(expected_ids)):
        raise InputError(f"{ids_path}: row ids do not match the expected stimulus order")
    return array, ids


def align_rows(array: np.ndarray, ids: np.ndarray, wanted: np.ndarray, source: str) -> np.ndarray:
    """Rows of ``array`` (labelled ``ids``) in the order of ``wanted``; every wanted id must be present.

    Rows are matched by id, never by position: a file whose ids do not label its rows one to
    one (another count, an id twice) is refused, since its order cannot be trusted.
    """
    if len(ids) != len(array):
        raise InputError(f"{source}: {len(array)} rows but {len(ids)} stimulus ids: its rows cannot be matched to stimuli")
    return array[row_positions(ids, wanted, source)]


def row_positions(ids: np.ndarray, wanted: np.ndarray, source: str) -> np.ndarray:
    """Return the rows labelled ``ids`` that hold each of ``wanted``, in its order (``align_rows``' checks)."""
    position = {int(i): r for r, i in enumerate(ids)}
    if len(position) != len(ids):
        twice = [int(i) for i, n in zip(*np.unique(ids, return_counts=True)) if n > 1]
        raise InputError(f"{source}: stimulus ids appear more than once, e.g. {twice[:5]}: its row order is ambiguous")
    missing = list(dict.fromkeys(int(i) for i in wanted if int(i) not in position))
    if missing:
        raise InputError(f"{source}: no row for {len(missing)} stimulus ids, e.g. {missing[:5]}")
    return np.array([position[int(i)] for i in wanted], dtype=np.int64)


class RowWriter:
    """Write a (rows, columns) ``.npy`` (float32, or ``dtype``) a block of rows at a time, atomically, with plain writes.

    For arrays larger than memory (BLIP's tokens of every stimulus): each block goes to disk as it comes. Used as
    a context manager: the file appears under its name only once every row is written.
    """

    def __init__(self, path: str | Path, shape: tuple[int, int], dtype=np.float32):
        self.path, self.shape, self.rows, self.dtype = Path(path), tuple(int(n) for n in shape), 0, np.dtype(dtype)

    def __enter__(self):
        """Open the temporary file and write the header."""
        self.tmp = Path(f"{self.path}.tmp")
        self._file = open(self.tmp, "wb")
        np.lib.format.write_array_header_2_0(self._file, {"descr": np.lib.format.dtype_to_descr(self.dtype),
                                                          "fortran_order": False, "shape": self.shape})
        return self

    def write(self, block: np.ndarray) -> None:
        """Append rows (n, columns)."""
        block = np.ascontiguousarray(block, dtype=self.dtype)
        if block.ndim != 2 or block.shape[1] != self.shape[1] or self.rows + len(block) > self.shape[0]:
            raise ValueError(f"{self.path}: rows {block.shape} do not continue a {self.shape} array at row {self.rows}")
        self._file.write(memoryview(block).cast("B"))
        self.rows += len(block)

    def __exit__(self, kind, error, trace):
        """Give the file its name if every row was written; else remove it (a missing row is an error)."""
        self._file.close()
        if kind is None and self.rows == self.shape[0]:
            os.replace(self.tmp, self.path)
            return False
        self.tmp.unlink(missing_ok=True)
        if kind is None:
            raise ValueError(f"{self.path}: {self.rows} of {self.shape[0]} rows written")
        return False


class ColumnBlocks:
    """A 2-D ``.npy`` file read or written a block of columns at a time, with plain file reads and writes.

    A memory map counts the pages it touches (and the kernel maps up to 64 KiB around each) in the process's
    resident memory while it is open: reading a block of columns touches every row, so a map would hold about
    the whole file. Here each row's part of the block is read into (or written from) one array, so a pass over a
    file larger than memory holds one block; the file's pages stay in the kernel's cache, which gives them back.
    Decoders stream their targets this way (``ridge.Prepared.stream``).

    Parameters
    ----------
    path : path
        The file (``create`` makes it first, float32 zeros).
    rows : array of int, optional
        Rows of the file, in the order wanted (e.g. the stimulus of each training trial): a block read is the
        file's block of these rows.
    create : tuple of int, optional
        Make the file with this shape (rows, columns) first.
    """

    def __init__(self, path: str | Path, rows=None, create: tuple[int, int] | None = None):
        self.path = Path(path)
        if create is not None:
            np.lib.format.open_memmap(self.path, "w+", np.float32, tuple(create)).flush()
        with open(self.path, "rb") as f:
            version = np.lib.format.read_magic(f)
            read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
            shape, fortran, self.dtype = read_header(f)
            self.offset = f.tell()
        if len(shape) != 2 or fortran:
            raise InputError(f"{self.path}: expected a 2-D array in C order, found shape {shape}")
        self.stored = shape
        self.rows = None if rows is None else np.asarray(rows)
        self.shape = (shape[0] if rows is None else len(self.rows), shape[1])
        # the stored rows a block reads (each once), and where each wanted row is among them: the same every block
        self._stored_rows, self._order = ((np.arange(shape[0]), None) if rows is None
                                          else np.unique(self.rows, return_inverse=True))

    def __getitem__(self, key) -> np.ndarray:
        """Read ``[:, columns]`` (a slice of columns) into an array."""
        start, stop = self._columns(key)
        needed = self._stored_rows
        block = np.empty((len(needed), stop - start), dtype=self.dtype)
        with open(self.path, "rb", buffering=0) as f:
            for k, row in enumerate(needed):
                f.seek(self._at(row, start))
                f.readinto(memoryview(block[k]).cast("B"))
        return block if self._order is None else block[self._order]

    def __setitem__(self, key, values) -> None:
        """Write ``[:, columns] = values`` (every row of the file; not where ``rows`` choose them)."""
        if self.rows is not None:
            raise ValueError("ColumnBlocks: a file read through chosen rows is not written")
        start, stop = self._columns(key)
        values = np.ascontiguousarray(np.broadcast_to(values, (self.stored[0], stop - start)), dtype=self.dtype)
        with open(self.path, "r+b", buffering=0) as f:
            for row in range(self.stored[0]):
                f.seek(self._at(row, start))
                f.write(memoryview(values[row]).cast("B"))

    def _at(self, row: int, column: int) -> int:
        return self.offset + (int(row) * self.stored[1] + column) * self.dtype.itemsize

    def _columns(self, key) -> tuple[int, int]:
        rows, columns = key
        if rows != slice(None) or not isinstance(columns, slice) or columns.step not in (None, 1):
            raise ValueError("ColumnBlocks: only [:, a:b] blocks are read and written")
        start, stop, _ = columns.indices(self.stored[1])
        return start, max(start, stop)
