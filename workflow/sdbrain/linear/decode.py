"""Decoding: ridge from an ROI's betas to one feature space (z, c or BLIP's tokens), scored on the test set.

``decode`` holds the targets and the weights in memory; ``stream`` decodes a target space too wide for that
(BLIP's 173,568 values per image: 17 GB of training targets at NSD size) from its file a block of targets at a
time, within a memory budget, and writes the predictions to disk as it goes. Both give the same predictions.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sdbrain.data.io import ColumnBlocks, align_rows, row_positions
from sdbrain.errors import InputError
from sdbrain.linear import ridge
from sdbrain.linear.stats import pearson_columns


@dataclass
class Decoded:
    """A decoder's test predictions, its chosen alphas and its scores."""

    prediction: np.ndarray | None  # (test images, targets); None where ``stream`` wrote them to its file
    alphas: np.ndarray       # chosen alpha per target
    target_r: np.ndarray     # r per target, across test images
    image_r: np.ndarray      # r per test image, across targets
    backend: str
    edges: tuple[float, float]  # fraction of alphas at the grid's low and high edge


def average_by_image(x: np.ndarray, ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Average the rows of each 73k id: (images, voxels) in ascending id order, as the released code's averaged betas.

    The released code trains its VGG19 decoders on these (``betas_ave_tr``): one row per training image.
    """
    images, row_image = np.unique(ids, return_inverse=True)
    sums = np.zeros((len(images), x.shape[1]), dtype=np.float64)
    np.add.at(sums, row_image, x)
    return (sums / np.bincount(row_image)[:, None]).astype(np.float32), images


def decode(x_train, train_ids, x_test, test_ids, features, feature_ids, settings: ridge.Settings,
           source: str = "features", shuffle_seed: int | None = None) -> Decoded:
    """Fit on training trials (rows aligned by 73k id), predict the averaged test betas.

    Parameters
    ----------
    x_train, x_test : arrays
        Betas of the ROI: (training trials, voxels) and (test images, voxels).
    train_ids, test_ids : arrays of int
        The 73k ids of their rows.
    features, feature_ids : array, array of int
        The target space (stimuli, values) and the 73k ids of its rows (``source`` names it in errors).
    settings : ridge.Settings
        The ridge grid, CV and solver.
    shuffle_seed : int, optional
        Permutes the training targets across trials: the control that shows what the decoder finds when
        betas and features are unrelated.
    """
    y_train = align_rows(features, feature_ids, train_ids, source)
    y_test = align_rows(features, feature_ids, test_ids, source)
    if shuffle_seed is not None:
        y_train = y_train[np.random.default_rng(shuffle_seed).permutation(len(y_train))]
    model = ridge.fit(x_train, y_train, settings)
    prediction = model.predict(x_test)
    return Decoded(prediction, model.alphas, pearson_columns(prediction, y_test),
                   pearson_columns(prediction.T, y_test.T), model.describe(),
                   ridge.alpha_edges(model.alphas, settings.alphas))


def fits_in_memory(memory_mb: float, n_trials: int, n_inputs: int, n_test: int, n_targets: int,
                   n_alphas: int) -> bool:
    """Whether every target fits one block of ``memory_mb`` (``ridge.target_batch``): else ``stream`` them."""
    return ridge.target_batch(memory_mb, n_trials, n_inputs, n_test, n_alphas) >= n_targets


def stream(x_train, train_ids, x_test, test_ids, features_path: str | Path, feature_ids, settings: ridge.Settings,
           memory_mb: float, out_path: str | Path) -> Decoded:
    """``decode`` for a target space read from ``features_path`` a block of targets at a time.

    The training trials' targets are the rows of their stimuli (by 73k id), read a block of columns at a time
    (``ColumnBlocks``); the design is decomposed once (in the dual form where voxels outnumber trials); each
    block's alphas are chosen, its test predictions (from the eigenbasis: its weights are never formed) written to
    ``out_path`` (created here, (test images, targets) float32). Blocks hold at most ``memory_mb`` of working
    memory (``ridge.target_batch``), whatever the number of targets. The scores are computed block by block.
    """
    source = str(features_path)
    y_train = ColumnBlocks(features_path, rows=row_positions(feature_ids, train_ids, source))
    y_test = ColumnBlocks(features_path, rows=row_positions(feature_ids, test_ids, source))
    if y_train.stored[0] != len(feature_ids):
        raise InputError(f"{source}: {y_train.stored[0]} rows but {len(feature_ids)} stimulus ids: its rows cannot "
                         "be matched to stimuli")
    n_targets = y_train.shape[1]
    batch = ridge.target_batch(memory_mb, len(train_ids), x_train.shape[1], len(test_ids), len(settings.alphas))
    batch = min(batch, settings.n_targets_batch or batch)
    out = ColumnBlocks(out_path, create=(len(test_ids), n_targets))
    prepared = ridge.prepare(x_train, settings)
    alphas = prepared.stream(y_train, x_test, out, batch)
    target_r, moments = np.zeros(n_targets), _ImageMoments(len(test_ids))
    for start in range(0, n_targets, batch):
        block = slice(start, start + batch)
        predicted, true = out[:, block], y_test[:, block]
        target_r[block] = pearson_columns(predicted, true)
        moments.add(predicted, true)
    return Decoded(None, alphas, target_r, moments.r(), prepared.eigh.name, ridge.alpha_edges(alphas, settings.alphas))


class _ImageMoments:
    """Pearson r per test image across targets, from sums over blocks of targets (float64)."""

    def __init__(self, n: int):
        self.n, self.sums = 0, np.zeros((5, n))

    def add(self, a: np.ndarray, b: np.ndarray) -> None:
        a, b = a.astype(np.float64), b.astype(np.float64)
        self.n += a.shape[1]
        self.sums += [a.sum(1), b.sum(1), (a * a).sum(1), (b * b).sum(1), (a * b).sum(1)]

    def r(self) -> np.ndarray:
        sa, sb, saa, sbb, sab = self.sums
        cov, va, vb = sab - sa * sb / self.n, saa - sa * sa / self.n, sbb - sb * sb / self.n
        with np.errstate(invalid="ignore", divide="ignore"):
            return np.where((va > 0) & (vb > 0), cov / np.sqrt(va * vb), np.nan)
