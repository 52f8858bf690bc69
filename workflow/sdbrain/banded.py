"""Banded ridge joint models (``encode.joint: banded``): one alpha per feature space and voxel.

The paper's joint model (``sdbrain.encode``) concatenates z and another space X and fits
one alpha per voxel, so the wider or noisier space sets the penalty of both. Banded ridge
(himalaya's BandedRidgeCV, random search on the simplex of band weights times the
``encode.alphas`` grid) lets each space have its own. Inputs are the same PCA-reduced
spaces, standardised on the training trials as ``sdbrain.ridge`` does, with the same
K-fold CV in trial order and the same averaged test set.

Per voxel: the joint r with its p and BH-FDR mask, and the split r^2 of each space
(himalaya's product measure, ``r2_score_split``: each space's share of the test R^2 of
the joint prediction; the shares sum to it). Unique variance keeps the paper's
definition, R2(z+X) - R2(X alone) with R2 = max(r, 0)^2, now with the banded R2(z+X).
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from . import ridge, stats
from .encode import Reduced, Responses, planned_block
from .errors import InputError


@dataclass
class Banded:
    r: np.ndarray             # (voxels,) joint model's Pearson r on the test set
    p: np.ndarray
    significant: np.ndarray
    split: np.ndarray         # (spaces, voxels) each space's share of the test R^2
    alphas: np.ndarray        # (spaces, voxels) each space's effective ridge penalty
    backend: str


def fit(parts: list[Reduced], data: Responses, params: dict) -> Banded:
    """The banded joint model of ``parts`` (each reduced on its own) for a subject's voxels."""
    return fit_voxels([x.train for x in parts], data.train_rows, [x.test for x in parts], data.y_train,
                      data.y_test, params, columns=data.columns)


def fit_voxels(x_train: list, train_rows, x_test: list, y_train, y_test, params: dict, columns=None) -> Banded:
    """Banded ridge from the spaces ``x_train`` (one row per training image, ``train_rows``
    mapping trials to images, as ``encode.fit_voxels``) to the voxels ``columns``, in blocks."""
    from sklearn.model_selection import KFold

    columns = np.arange(y_train.shape[1]) if columns is None else np.asarray(columns)
    scalers = [ridge.Standardiser.fit(x[train_rows]) for x in x_train]
    train = [s(x[train_rows]) for s, x in zip(scalers, x_train)]
    test = [s(x) for s, x in zip(scalers, x_test)]
    # the same folds as sdbrain.ridge: K-fold over trials in their order
    folds = KFold(n_splits=params["folds"], shuffle=False)
    n_voxels, n_spaces = len(columns), len(train)
    r, split, alphas = np.full(n_voxels, np.nan), np.zeros((n_spaces, n_voxels)), np.zeros((n_spaces, n_voxels))
    size = block_size(params, len(train_rows), sum(x.shape[1] for x in train), len(x_test[0]))
    backend = ridge.choose_backend(params["backend"])
    for start in tqdm(range(0, n_voxels, size), desc=f"banded voxel blocks of {size}", unit="block"):
        block = slice(start, start + size)
        targets = columns[block]
        parts, alphas[:, block] = fit_block(train, np.asarray(y_train[:, targets], dtype=np.float32), test,
                                            params, folds)
        observed = np.asarray(y_test[:, targets], dtype=np.float32)
        r[block] = stats.pearson_columns(parts.sum(0), observed)
        split[:, block] = split_r2(observed, parts)
    p = stats.correlation_pvalues(r, y_test.shape[0])
    return Banded(r, p, stats.fdr_mask(p, params["fdr_q"]), split, alphas, f"himalaya BandedRidgeCV/{backend}")


def fit_block(train: list, y: np.ndarray, test: list, params: dict, folds):
    """One block of voxels: each space's part of the test prediction (spaces, test images, voxels)
    and each space's penalty per voxel (spaces, voxels). The intercept goes to no space: the
    split is scored on centred responses."""
    from himalaya.backend import get_backend
    from himalaya.ridge import BandedRidgeCV

    settings = params["banded"]
    batch = params["n_targets_batch"]
    model = BandedRidgeCV(groups="input", cv=folds, fit_intercept=params["fit_intercept"],
                          random_state=params["seed"], solver="random_search",
                          solver_params={"n_iter": settings["n_iter"], "concentration": settings["concentration"],
                                         "alphas": np.asarray(params["alphas"], dtype=np.float32),
                                         "n_targets_batch": batch, "n_targets_batch_refit": batch,
                                         "progress_bar": False})
    model.fit(train, y)
    b = get_backend()
    coef = np.asarray(b.to_numpy(model.coef_), dtype=np.float32)
    edges = np.cumsum([0] + [x.shape[1] for x in test])
    parts = np.stack([x @ coef[lo:hi] for x, lo, hi in zip(test, edges[:-1], edges[1:])])
    # deltas = log(band weight / alpha): the penalty on each space is exp(-delta)
    return parts, np.exp(-np.asarray(b.to_numpy(model.deltas_), dtype=np.float64))


def split_r2(observed: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Each space's share of the test R^2 (himalaya's product measure), on responses and
    predictions centred over the test images (the intercept belongs to no space)."""
    from himalaya.backend import get_backend
    from himalaya.scoring import r2_score_split

    y = observed.astype(np.float64) - observed.mean(0, dtype=np.float64)
    centred = parts.astype(np.float64) - parts.mean(1, keepdims=True, dtype=np.float64)
    # a voxel constant over the test images explains nothing
    spread = (y ** 2).sum(0) > 0
    out = np.zeros((parts.shape[0], y.shape[1]))
    if spread.any():
        b = get_backend()
        out[:, spread] = b.to_numpy(r2_score_split(y[:, spread], centred[:, :, spread], include_correlation=True))
    return out


def split_concatenated(x_test: list, model: ridge.Decoder) -> np.ndarray:
    """A concatenated model's (``sdbrain.ridge``) test prediction split by space, as ``fit_block``
    splits a banded one: (spaces, test images, voxels)."""
    standardised = model.standardiser(np.hstack(x_test))
    edges = np.cumsum([0] + [x.shape[1] for x in x_test])
    return np.stack([standardised[:, lo:hi] @ model.weights[lo:hi] for lo, hi in zip(edges[:-1], edges[1:])])


def block_size(params: dict, n_trials: int, n_features: int, n_test: int) -> int:
    """Voxels per banded fit: ``encode.memory_mb`` less himalaya's hat matrices (alphas x one
    fold's validation trials x its training trials), then planned as ``encode.planned_block``."""
    block = params.get("voxel_block") or 2**31
    if params.get("memory_mb"):
        fold = n_trials // params["folds"]
        hat_mb = len(params["alphas"]) * fold * (n_trials - fold) * 4 / 2**20
        if hat_mb >= params["memory_mb"]:
            raise InputError(f"config key 'encode.memory_mb': {params['memory_mb']:g} MB does not hold banded "
                             f"ridge's hat matrices ({hat_mb:.0f} MB for {len(params['alphas'])} alphas and "
                             f"{n_trials} trials)")
        block = min(block, planned_block(n_trials, n_features, n_test, params["memory_mb"] - hat_mb))
    return block

