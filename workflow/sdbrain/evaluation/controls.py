"""Controls and ceilings of the validity analysis (rule validity), each scored as a method.

- shuffled: the decoders fed the test responses of other images (a seeded permutation).
  The decoders are affine in the responses, so image i's decoded features under the
  permutation pi are exactly those of image pi(i), and so is its reconstruction: the
  shuffled control reuses X_zc of pi(i) for image i (its noise is seeded by pi(i)'s id).
- retrieval: the training image whose true features (z and c) are nearest the decoded
  ones, scored as if it were the reconstruction.
- ceiling: the test image's true z and c through the same reconstruction (X_zc).
- mean: the training mean of z and of c through the same reconstruction.
The two generated controls depend on no subject: they are reconstructed once, as the
pseudo-subjects ``ceiling`` and ``mean``.
"""
from __future__ import annotations

import numpy as np

from sdbrain.data.io import align_rows
from sdbrain.errors import ArgumentError, InputError

CONTROLS = ("retrieval", "ceiling", "shuffled", "mean")  # in the order the report lists them


def generated_inputs(z: np.ndarray, z_ids, c: np.ndarray, c_ids, test_ids, train_ids) -> dict[str, dict[str, np.ndarray]]:
    """Return the decoded-feature arrays that the generated controls feed to the reconstruction.

    One row per test image: {control: {"z": ..., "c": ...}}.
    """
    test_ids, train_ids = np.asarray(test_ids), np.unique(train_ids)
    overlap = np.intersect1d(test_ids, train_ids)
    if overlap.size:
        raise InputError(f"{overlap.size} test image(s) are also training images, e.g. 73k ids {overlap[:5].tolist()}")
    out: dict[str, dict[str, np.ndarray]] = {"ceiling": {}, "mean": {}}
    for name, values, ids in (("z", z, z_ids), ("c", c, c_ids)):
        out["ceiling"][name] = align_rows(values, np.asarray(ids), test_ids, f"features {name}")
        mean = align_rows(values, np.asarray(ids), train_ids, f"features {name}").mean(0, dtype=np.float64)
        out["mean"][name] = np.repeat(mean[None].astype(np.float32), len(test_ids), axis=0)
    return out


def permutation(n: int, seed: int) -> np.ndarray:
    """Return a seeded permutation of n test images that moves every image (a derangement).

    Every image moves so that no image keeps its own responses.
    """
    if n < 2:
        raise InputError(f"the shuffled control needs at least 2 test images, got {n}")
    rng = np.random.default_rng([seed, n])
    while True:
        order = rng.permutation(n)
        if not (order == np.arange(n)).any():
            return order


def late_recipe(key: str):
    """Return the recipe that computes only the feature ``key``.

    ``key`` is written '<recipe>.<metric>' (e.g. takagi.clip.embeds).
    """
    from dataclasses import replace

    from sdbrain.evaluation import recipes
    name, _, metric = key.partition(".")
    recipe = recipes.RECIPES.get(name)
    if recipe is None or metric not in {f.metric for f in recipe.features}:
        known = [f"{r.name}.{f.metric}" for r in recipes.RECIPES.values() for f in r.features]
        raise ArgumentError("feature", f"unknown feature {key!r}; expected one of {known}")
    return replace(recipe, features=(recipe.feature(metric),))
