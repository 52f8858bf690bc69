"""Variance partitioning: comparing the concatenated and banded joint models of z and another space.

Per ROI, among the voxels each joint model predicts significantly: the share with
negative unique variance (which a partition of explained variance should not have) and
with clearly negative unique variance (below ``-clearly``), and the mean unique variance
of each space. In the toy world, agreement with the truth (sdbrain.toy.world.VOXEL_CLASSES):
the share of significant early (image-driven, z-like) voxels attributed to z and of
ventral (caption-driven) voxels attributed to the other space, and of both together
("right"), a voxel going to the space with the larger unique variance or (banded) split r^2.
"""
from __future__ import annotations

import numpy as np
import pandas as pd

from sdbrain.errors import InputError


def negative_shares(unique: np.ndarray, clearly: float) -> tuple[float, float]:
    """Return the share of ``unique`` below zero and below ``-clearly`` (NaN for no voxels)."""
    if unique.size == 0:
        return np.nan, np.nan
    return float((unique < 0).mean()), float((unique < -clearly).mean())


def roi_rows(table: pd.DataFrame, other: str, clearly: float) -> list[dict]:
    """Summarise a joint model's voxels.tsv per ROI: one row per ROI, and one for all of them ("all").

    The table needs a ``roi`` column; only significant voxels count.
    """
    rows = []
    for roi, part in [*table.groupby("roi"), ("all", table)]:
        sig = part[part["significant"] == 1]
        row = {"roi": roi, "significant_voxels": len(sig)}
        for space, column in (("z", "unique_z"), ("other", f"unique_{other}")):
            row[f"negative_{space}"], row[f"clearly_negative_{space}"] = negative_shares(sig[column].to_numpy(),
                                                                                         clearly)
            row[f"mean_unique_{space}"] = sig[column].mean()
        if "split_z" in part:
            row["mean_split_z"], row["mean_split_other"] = sig["split_z"].mean(), sig[f"split_{other}"].mean()
        rows.append(row)
    return rows


def agreement(to_z: np.ndarray, significant: np.ndarray, classes: np.ndarray) -> dict:
    """Score an attribution against the toy truth's early and ventral voxel classes.

    Returns the share of significant early-class voxels attributed to z (``to_z``), of ventral-class
    voxels attributed to the other space, and of both together ("right").
    """
    early, ventral = significant & (classes == 1), significant & (classes == 2)
    right = np.concatenate([to_z[early], ~to_z[ventral]])
    return {"early_voxels": int(early.sum()),
            "early_to_z": float(to_z[early].mean()) if early.any() else np.nan,
            "ventral_voxels": int(ventral.sum()),
            "ventral_to_other": float((~to_z[ventral]).mean()) if ventral.any() else np.nan,
            "right": float(right.mean()) if right.size else np.nan}


def attributions(table: pd.DataFrame, other: str) -> dict[str, np.ndarray]:
    """Voxels attributed to z by each measure a joint model's table has: unique variance, and split r^2."""
    out = {"unique": table["unique_z"].to_numpy() > table[f"unique_{other}"].to_numpy()}
    if "split_z" in table:
        out["split"] = table["split_z"].to_numpy() > table[f"split_{other}"].to_numpy()
    return out


def truth_classes(truth_path, voxels: np.ndarray) -> np.ndarray:
    """Return the toy truth's class of each of ``voxels`` (flat indices into the functional volume)."""
    truth = np.load(truth_path)
    known, classes = truth["voxels"], truth["voxel_class"]
    where = np.searchsorted(known, voxels).clip(max=len(known) - 1)
    if not np.array_equal(known[where], voxels):
        raise InputError(f"{truth_path}: the toy truth lacks some of the subject's brain-mask voxels")
    return classes[where]
