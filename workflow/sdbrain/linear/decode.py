"""Decoding: ridge from an ROI's betas to one feature space (z or c), scored on the test set."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdbrain.data.io import align_rows
from sdbrain.linear import ridge
from sdbrain.linear.stats import pearson_columns


@dataclass
class Decoded:
    """A decoder's test predictions, its chosen alphas and its scores."""

    prediction: np.ndarray   # (test images, targets)
    alphas: np.ndarray       # chosen alpha per target
    target_r: np.ndarray     # r per target, across test images
    image_r: np.ndarray      # r per test image, across targets
    backend: str
    edges: tuple[float, float]  # fraction of alphas at the grid's low and high edge


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
