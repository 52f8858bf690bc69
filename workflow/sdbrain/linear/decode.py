"""Decoding: ridge from an ROI's betas to one feature space (z or c), scored on the test set."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdbrain.data.io import align_rows
from sdbrain.linear import ridge
from sdbrain.linear.stats import pearson_columns


@dataclass
class Decoded:
    prediction: np.ndarray   # (test images, targets)
    alphas: np.ndarray       # chosen alpha per target
    target_r: np.ndarray     # r per target, across test images
    image_r: np.ndarray      # r per test image, across targets
    backend: str
    edges: tuple[float, float]  # fraction of alphas at the grid's low and high edge


def decode(x_train, train_ids, x_test, test_ids, features, feature_ids, params: dict, source: str = "features",
           shuffle_seed: int | None = None) -> Decoded:
    """Fit on training trials (rows aligned by 73k id), predict the averaged test betas.

    ``shuffle_seed`` permutes the training targets across trials: the control that
    shows what the decoder finds when betas and features are unrelated.
    """
    y_train = align_rows(features, feature_ids, train_ids, source)
    y_test = align_rows(features, feature_ids, test_ids, source)
    if shuffle_seed is not None:
        y_train = y_train[np.random.default_rng(shuffle_seed).permutation(len(y_train))]
    model = ridge.from_config(x_train, params, "decode").fit(y_train)
    prediction = model.predict(x_test)
    return Decoded(prediction, model.alphas, pearson_columns(prediction, y_test),
                   pearson_columns(prediction.T, y_test.T), model.describe(), ridge.alpha_edges(model.alphas, params["alphas"]))
