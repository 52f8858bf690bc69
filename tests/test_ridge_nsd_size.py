"""The eigh ridge solver at NSD-like size (4,000 inputs, 8,000 trials) against a float64 closed form.

NSD's designs are not the toy world's: early visual cortex has thousands of voxels that
share a common fluctuation, and z has 6,400 correlated features, so the Gram matrix has one
eigenvalue thousands of times the rest. A solver that keeps eigenvalues relative to
``lambda_max * n * eps`` in float32 drops most real directions there (measured: 1,145 of
6,000 kept with a 30 % shared factor, predictions off by up to 92 %). The reference here
is independent of the solver: per fold and alpha, a float64 Cholesky solve of
(X'X + alpha I) w = X'y, the same CV score and tie rule, its Gram matrices in torch
float64. Three folds keep the test short (the fold count does not enter the numerics);
each trains on 5,333 trials, a third more than inputs, so that, as on NSD (about 20,000
trials for 7,000 voxels), every decomposition is of a well-posed X'X (at as many trials as
inputs the smallest real eigenvalues approach zero and no float64 method can tell them
from rounding). At this size the float32 solver this test replaced fails every design (measured
when the size was cut from 6,000 x 12,000, which took three times as long: same alpha for
52 %, 81 % and 59 % of targets, predictions off by up to 75 %, 40 % and 48 %), while this
solver matches the reference to 3e-5, 1e-5 and 2e-4.
"""
import numpy as np
import pytest
import scipy.linalg as sl
import torch
from scipy import ndimage
from sklearn.model_selection import KFold

from sdbrain.linear import ridge

N, P, TARGETS, FOLDS = 8000, 4000, 128, 3


def shared_design(shared: float, rng) -> np.ndarray:
    """Voxels with a common fluctuation carrying ``shared`` of their variance (loadings vary by voxel)."""
    common = rng.normal(size=(N + 500, 1))
    loading = 1 + 0.3 * rng.normal(size=(1, P))
    return (np.sqrt(shared) * common * loading + np.sqrt(1 - shared) * rng.normal(size=(N + 500, P))).astype(np.float32)


def z_like_design(rng, repeats: int = 3) -> np.ndarray:
    """Latents of images: 4 smooth, mixed channels on a 40 x 40 grid (4,000 of its 6,400 values), a brightness
    offset per image, a faint texture; every image seen ``repeats`` times in shuffled trials, so that with 8,000
    trials the design has rank about 2,700 of 4,000 (as a z design has until there are more images than features)."""
    k = (N + 500) // repeats + 1
    field = ndimage.gaussian_filter(rng.normal(size=(k, 4, 40, 40)), sigma=(0, 0, 1, 1))
    mix = np.array([[1, .5, .3, .2], [.5, 1, .4, .1], [.3, .4, 1, .3], [.2, .1, .3, 1]])
    z = np.einsum("ij,kjxy->kixy", mix, field) + 0.3 * rng.normal(size=(k, 1, 1, 1))
    z = (z + 0.01 * rng.normal(size=z.shape)).reshape(k, -1)[:, :P].astype(np.float32)
    trials = np.repeat(np.arange(k), repeats)[:N + 500]
    rng.shuffle(trials)
    return z[trials]


def targets(x, rng) -> np.ndarray:
    """Targets from noiseless to noise-dominated, so that the CV picks alphas across the grid."""
    signal = x @ (rng.normal(size=(P, TARGETS)) / np.sqrt(P))
    return (signal + rng.normal(size=signal.shape) * np.logspace(-3, 1, TARGETS) * signal.std(0)).astype(np.float32)


def _gram(a, b):
    return (torch.from_numpy(np.ascontiguousarray(a.T)) @ torch.from_numpy(b)).numpy()


def reference(x, y, x_new, grid):
    """float64 ridge with himalaya's CV rule (mean squared error over folds, ties to the larger alpha)."""
    x, y, x_new = (a.astype(np.float64) for a in (x, y, x_new))
    mean, scale = x.mean(0), x.std(0)
    xs, xn = (x - mean) / scale, (x_new - mean) / scale
    scores = np.zeros((len(grid), y.shape[1]))
    for train, val in KFold(FOLDS).split(xs):
        xm, ym = xs[train].mean(0), y[train].mean(0)
        xt, xv, yt, yv = xs[train] - xm, xs[val] - xm, y[train] - ym, y[val] - ym
        gram, rhs = _gram(xt, xt), _gram(xt, yt)
        for a, alpha in enumerate(grid):
            w = sl.cho_solve(sl.cho_factor(gram + alpha * np.eye(P)), rhs)
            scores[a] -= ((yv - xv @ w) ** 2).mean(0)
    best = np.asarray(grid)[(scores / FOLDS + np.log(grid)[:, None] * 1e-10).argmax(0)]
    xm, ym = xs.mean(0), y.mean(0)
    gram, rhs = _gram(xs - xm, xs - xm), _gram(xs - xm, y - ym)
    prediction = np.zeros((len(xn), y.shape[1]))
    for alpha in np.unique(best):
        cols = best == alpha
        prediction[:, cols] = (xn - xm) @ sl.cho_solve(sl.cho_factor(gram + alpha * np.eye(P)), rhs[:, cols]) + ym[cols]
    return prediction, best


# Grids start at 1e-2: far below the smallest real eigenvalue (a few hundred here), smaller alphas are exact ties of
# the CV score, and on the rank-deficient design the Cholesky reference itself loses digits below it.
@pytest.mark.parametrize("design, grid", [
    ("shared 30 %", [1e-2, 1e1, 1e2, 1e3, 1e5]),
    ("shared 10 %", [1e-2, 1e1, 1e2, 1e3, 1e5]),
    ("z-like", [1e-2, 1e0, 1e2, 1e3, 1e5]),
])
def test_eigh_equals_float64_ridge_at_nsd_size(design, grid):
    rng = np.random.default_rng(0)
    x = z_like_design(rng) if design == "z-like" else shared_design(0.3 if "30" in design else 0.1, rng)
    y = targets(x, rng)
    expected, best = reference(x[:N], y[:N], x[N:], grid)
    model = ridge.fit(x[:N], y[:N], ridge.Settings(tuple(grid), folds=FOLDS, fit_intercept=True, solver="eigh"))
    same = np.isclose(model.alphas, best)
    assert same.mean() >= 0.99, f"{design}: the same alpha for {same.mean():.1%} of targets"
    assert len(set(best)) >= 3, "the grid is exercised"
    got = model.predict(x[N:])
    centred = expected - expected.mean(0)
    error = np.linalg.norm(got - expected, axis=0) / np.linalg.norm(centred, axis=0)
    assert error[same].max() < 1e-3, f"{design}: largest relative error {error[same].max():.1e}"
    # every real direction is kept and no other: a centred design of d distinct rows spans min(d - 1, P) directions
    kept, size = model.components
    spans = [min(len(np.unique(x[rows], axis=0)) - 1, P) for rows, _ in KFold(FOLDS).split(x[:N])]
    assert size == P and kept == min(spans + [min(len(np.unique(x[:N], axis=0)) - 1, P)]), design
