"""Ingestion of NSD single-trial betas into per-ROI train/test matrices.

Sessions are read one at a time, in blocks of trials, so memory is bounded by one
session of masked voxels; training rows stream into memory-mapped ``.npy`` files
on disk. Test rows (shared images seen by every subject) are averaged over their
repeats. Voxels that are non-finite anywhere or constant over the training trials
are kept in the arrays (as zeros) but marked ``valid = 0`` in the voxel table and
reported; readers drop them.
"""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
from numpy.lib.format import open_memmap
from tqdm import tqdm

from sdbrain.data import nsd
from sdbrain.data.io import load_rows, save_array, write_ids
from sdbrain.errors import InputError


@dataclass(frozen=True)
class RoiLabels:
    """An ROI's definition: a label volume of the subject's func1pt8mm space (e.g. streams) and its labels."""

    file: str
    labels: tuple[int, ...]


@dataclass
class Roi:
    """An ROI of a subject: its definition, and its voxels in the functional volume."""

    name: str
    file: str
    labels: list[int]
    voxels: np.ndarray  # flat indices into the (Z, Y, X) volume
    shape: tuple[int, int, int]  # the (Z, Y, X) volume


def load_rois(layout: nsd.Layout, subject: str, rois: dict[str, RoiLabels]) -> list[Roi]:
    """Read each ROI's voxels (name -> definition); each label volume is read once, however many ROIs use it."""
    volumes = {}
    out = []
    for name, spec in rois.items():
        path = layout.roi(subject, spec.file)
        if path not in volumes:
            volumes[path] = nsd.read_volume(path)
        voxels = np.flatnonzero(nsd.roi_mask(volumes[path], spec.labels))
        if voxels.size == 0:
            raise InputError(f"ROI '{name}' is empty: no voxel of {path} has label(s) {list(spec.labels)}")
        out.append(Roi(name, spec.file, list(spec.labels), voxels, volumes[path].shape))
    return out


def read_session(path: Path, columns: np.ndarray, scale: float, block: int) -> np.ndarray:
    """(trials, len(columns)) float32 betas of one session, read ``block`` trials at a time."""
    with h5py.File(path, "r") as f:
        betas = f["betas"]
        out = np.empty((betas.shape[0], columns.size), dtype=np.float32)
        for start in range(0, betas.shape[0], block):
            chunk = betas[start:start + block]
            out[start:start + len(chunk)] = chunk.reshape(len(chunk), -1)[:, columns]
    out /= scale
    return out


def zscore_session(x: np.ndarray) -> np.ndarray:
    """Per-voxel z-score over a session's trials; constant voxels become 0."""
    mean = x.mean(0)
    std = x.std(0)
    std[std == 0] = np.inf
    return (x - mean) / std


def ingest_subject(layout: nsd.Layout, subject: str, sessions, rois: dict[str, RoiLabels], test_ids: np.ndarray,
                   outdir: Path, zscore: bool = False, scale: float = 300.0, block: int = 64) -> pd.DataFrame:
    """Write train_/test_{roi}.npy, train_ids.tsv, test_ids.tsv and voxels_{roi}.tsv; return the report."""
    outdir = Path(outdir)
    outdir.mkdir(parents=True, exist_ok=True)
    trials = nsd.read_responses(layout.responses(subject), sessions)
    roi_list = load_rois(layout, subject, rois)
    columns = np.unique(np.concatenate([r.voxels for r in roi_list]))

    is_test = trials["73KID"].isin(test_ids).to_numpy()
    train_rows = np.cumsum(~is_test) - 1          # row in the train matrix of each train trial
    test_row = {int(i): r for r, i in enumerate(test_ids)}
    n_train = int((~is_test).sum())

    tmp = {r.name: outdir / f".train_{r.name}.tmp.npy" for r in roi_list}
    train = {r.name: open_memmap(tmp[r.name], mode="w+", dtype=np.float32, shape=(n_train, r.voxels.size)) for r in roi_list}
    test_sum = np.zeros((len(test_ids), columns.size), dtype=np.float64)
    test_count = np.zeros(len(test_ids), dtype=np.int64)
    train_sum = np.zeros(columns.size, dtype=np.float64)
    train_sumsq = np.zeros(columns.size, dtype=np.float64)
    nonfinite = np.zeros(columns.size, dtype=bool)
    where = {r.name: np.searchsorted(columns, r.voxels) for r in roi_list}

    for session in tqdm(sessions, desc=f"{subject} sessions", unit="session"):
        x = read_session(layout.betas(subject, session), columns, scale, block)
        bad = ~np.isfinite(x)
        if bad.any():
            nonfinite |= bad.any(0)
            x[bad] = 0.0
        if zscore:
            x = zscore_session(x)
        in_session = np.flatnonzero(trials["SESSION"].to_numpy() == session)
        session_test = is_test[in_session]
        xs_train = x[~session_test]
        rows = train_rows[in_session[~session_test]]
        for r in roi_list:
            train[r.name][rows] = xs_train[:, where[r.name]]
        train_sum += xs_train.sum(0)
        train_sumsq += (xs_train.astype(np.float64) ** 2).sum(0)
        ids = trials["73KID"].to_numpy()[in_session[session_test]]
        for row, trial in zip((test_row[int(i)] for i in ids), x[session_test]):
            test_sum[row] += trial
            test_count[row] += 1

    if (test_count == 0).any():
        raise InputError(f"{layout.responses(subject)}: no trial in sessions {list(sessions)} "
                         f"for test image(s) {test_ids[test_count == 0][:5].tolist()}")
    test = (test_sum / test_count[:, None]).astype(np.float32)
    variance = train_sumsq / max(n_train, 1) - (train_sum / max(n_train, 1)) ** 2
    valid = ~nonfinite & (variance > 1e-12)

    report = []
    for r in roi_list:
        cols = where[r.name]
        train[r.name].flush()
        del train[r.name]
        os.replace(tmp[r.name], outdir / f"train_{r.name}.npy")
        save_array(outdir / f"test_{r.name}.npy", test[:, cols])
        zyx = np.unravel_index(r.voxels, r.shape)
        pd.DataFrame({"voxel": r.voxels, "z": zyx[0], "y": zyx[1], "x": zyx[2],
                      "valid": valid[cols].astype(int)}).to_csv(outdir / f"voxels_{r.name}.tsv", sep="\t", index=False)
        report.append({"subject": subject, "roi": r.name, "voxels": r.voxels.size,
                       "excluded_nonfinite": int(nonfinite[cols].sum()),
                       "excluded_constant": int((~nonfinite[cols] & ~valid[cols]).sum()),
                       "train_trials": n_train, "test_images": len(test_ids),
                       "test_trials": int(test_count.sum())})
    write_ids(outdir / "train_ids.tsv", trials["73KID"].to_numpy()[~is_test])
    write_ids(outdir / "test_ids.tsv", test_ids)
    return pd.DataFrame(report)


def load_betas(indir: Path, roi: str, split: str, mmap: bool = False):
    """(betas of the valid voxels, row ids, voxel table of the valid voxels) of one ROI and split.

    With ``mmap`` the betas stay on disk as long as no voxel is excluded; otherwise
    the valid columns are read into memory (use ``valid_columns`` to read in blocks).
    """
    x, ids, voxels, keep = valid_columns(indir, roi, split, mmap)
    return (x if keep.all() else x[:, keep]), ids, voxels


def valid_columns(indir: Path, roi: str, split: str, mmap: bool = True):
    """(all betas, row ids, voxel table of the valid voxels, boolean mask of valid columns)."""
    indir = Path(indir)
    x, ids = load_rows(indir / f"{split}_{roi}.npy", indir / f"{split}_ids.tsv", mmap=mmap)
    voxels = pd.read_csv(indir / f"voxels_{roi}.tsv", sep="\t")
    keep = voxels["valid"].to_numpy(bool)
    return x, ids, voxels[keep].reset_index(drop=True), keep
