"""Voxel-wise encoding models: features of the seen images -> every voxel in the brain mask.

Features larger than ``n_components`` are reduced by PCA fitted on the training
images only (each image once, not once per trial) and applied to the test images.
Ridge (himalaya, features standardised, per-voxel alpha by K-fold CV in trial order)
is fitted in blocks of voxels so that a 200k-voxel brain stays within memory; each
voxel is scored by Pearson r on the averaged test set, with its one-sided p and
the BH-FDR mask.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.decomposition import PCA
from tqdm import tqdm

from . import ridge, stats
from .io import align_rows


@dataclass
class Reduced:
    train: np.ndarray
    test: np.ndarray
    explained_variance: np.ndarray  # ratio per component (empty when no PCA was needed)


def reduce(features: np.ndarray, feature_ids, train_images, test_images, n_components: int, seed: int,
           source: str = "features") -> Reduced:
    """Features of the training and test images, PCA-reduced when wider than ``n_components``."""
    train = align_rows(features, feature_ids, train_images, source).astype(np.float32)
    test = align_rows(features, feature_ids, test_images, source).astype(np.float32)
    if train.shape[1] <= n_components:
        return Reduced(train, test, np.array([]))
    k = min(n_components, len(train_images))
    pca = PCA(n_components=k, svd_solver="randomized" if k < min(train.shape) // 2 else "full", random_state=seed)
    reduced_train = pca.fit_transform(train).astype(np.float32)  # fitted on training images only
    return Reduced(reduced_train, pca.transform(test).astype(np.float32), pca.explained_variance_ratio_)


@dataclass
class Encoded:
    r: np.ndarray
    p: np.ndarray
    significant: np.ndarray
    alphas: np.ndarray
    backend: str


def fit_voxels(x_train, train_rows, x_test, y_train, y_test, params: dict, columns=None) -> Encoded:
    """Ridge from features to voxels, in blocks of ``params['voxel_block']`` voxels.

    ``x_train`` holds one row per training image and ``train_rows`` maps each training
    trial to its image's row, so repeated images are not copied in memory. ``columns``
    selects the voxels (columns of ``y_train`` and ``y_test``) to fit; ``y_train`` may be
    a memory map, of which only one block of columns is read at a time.
    """
    columns = np.arange(y_train.shape[1]) if columns is None else np.asarray(columns)
    n_voxels = len(columns)
    r = np.full(n_voxels, np.nan)
    alphas = np.zeros(n_voxels)
    design = x_train[train_rows]
    backend = ""
    for start in tqdm(range(0, n_voxels, params["voxel_block"]), desc="voxel blocks", unit="block"):
        block = slice(start, start + params["voxel_block"])
        targets = columns[block]
        model = ridge.fit(design, np.asarray(y_train[:, targets], dtype=np.float32), params["alphas"], params["folds"],
                          params["fit_intercept"], params["n_targets_batch"], params["backend"])
        r[block] = stats.pearson_columns(model.predict(x_test), np.asarray(y_test[:, targets], dtype=np.float32))
        alphas[block] = model.alphas
        backend = model.backend
    p = stats.correlation_pvalues(r, y_test.shape[0])
    return Encoded(r, p, stats.fdr_mask(p, params["fdr_q"]), alphas, backend)


def planned_block(n_trials: int, n_features: int, budget_mb: float, bytes_per_value: int = 4) -> int:
    """Voxels per block so that a block's targets, predictions and CV scores fit in ``budget_mb``."""
    fixed = (n_trials * n_features * 2) * bytes_per_value  # design matrix and its standardised copy
    per_voxel = (n_trials * 3) * bytes_per_value           # targets, centred copy, fold predictions
    free = budget_mb * 2**20 - fixed
    if free <= per_voxel:
        raise ValueError(f"memory budget of {budget_mb} MB is below the design matrix's {fixed / 2**20:.0f} MB")
    return int(free // per_voxel)
