"""Ridge regression: standardisation, per-target alpha by K-fold CV, two solvers.

Inputs (voxels for decoders, features for encoders) are standardised with training
statistics; each target gets its own alpha from a grid by K-fold cross-validation
over training trials in their order (no shuffling, so that repeats of an image in
nearby trials do not leak across folds more than the acquisition order implies).
The CV score is himalaya's (mean squared error on the validation fold, averaged over
folds, ties to the larger alpha).

Solvers:
- ``eigh`` (default): one eigendecomposition per fold of the smaller Gram matrix
  (X'X when trials outnumber inputs, else XX', the kernel form), after which every
  alpha costs one matrix product; in torch, on the GPU when present. It gives
  himalaya's alphas and predictions (``tests/test_decode.py``) several times faster,
  because himalaya takes a full SVD of each fold's design and forms an
  (alphas x test x train) hat matrix (``benchmarks/decoder.py``).
- ``himalaya``: himalaya's RidgeCV (or KernelRidgeCV with a linear kernel when
  trials are fewer than inputs), the library the method was published with.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from sdbrain import devices
from sdbrain.errors import InputError


def _setting(key: str | None, name: str) -> str:
    """How an error names a ridge setting: the caller's config key (section ``key``, e.g. decode.alphas),
    or, for a call from code without a config section, the argument."""
    return f"config key '{key}.{name}'" if key else f"ridge argument '{name}'"


def choose_backend(name: str = "auto", key: str | None = None) -> str:
    """'auto' -> torch_cuda when a GPU is present, else the torch CPU backend (float32); ``key``: the caller's
    config section, named by errors."""
    from himalaya.backend import set_backend
    if name == "auto":
        name = "torch_cuda" if devices.cuda_or_cpu("auto", _backend_key(key)) == "cuda" else "torch"
    set_backend(name, on_error="raise")
    return name


@dataclass
class Standardiser:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        mean = x.mean(0, dtype=np.float64)
        scale = x.std(0, dtype=np.float64)
        scale[scale == 0] = 1.0
        return cls(mean.astype(np.float32), scale.astype(np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale).astype(np.float32)


@dataclass
class RidgeFit:
    """A fitted ridge model: predictions for new inputs, and the alpha chosen per target."""
    weights: np.ndarray    # (inputs, targets), on standardised inputs
    intercept: np.ndarray  # (targets,)
    standardiser: Standardiser
    alphas: np.ndarray
    backend: str
    # eigh: (fewest directions kept by a fold's or the refit's decomposition, directions in all)
    components: tuple[int, int] | None = None

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self.standardiser(x) @ self.weights + self.intercept).astype(np.float32)

    def describe(self) -> str:
        """The solver and backend, and for eigh how many directions of the design it kept."""
        if self.components is None:
            return self.backend
        kept, size = self.components
        return f"{self.backend} (kept {kept} of {size} directions, fewest over the folds and the refit)"


def fit(x: np.ndarray, y: np.ndarray, alphas, folds: int = 5, fit_intercept: bool = False,
        n_targets_batch: int | None = None, backend: str = "auto", solver: str = "eigh") -> RidgeFit:
    """Fit ridge from ``x`` (trials, inputs) to ``y`` (trials, targets)."""
    return prepare(x, alphas, folds, fit_intercept, backend, solver).fit(y, n_targets_batch)


def from_config(x: np.ndarray, section: dict, key: str) -> Prepared:
    """``prepare`` with the settings of the caller's config section ``key`` (decode or encode): alphas,
    folds, fit_intercept, backend, solver (eigh where absent) and n_targets_batch; errors name its keys."""
    return prepare(x, section["alphas"], section["folds"], section["fit_intercept"], section["backend"],
                   section.get("solver", "eigh"), n_targets_batch=section["n_targets_batch"], key=key)


def prepare(x: np.ndarray, alphas, folds: int = 5, fit_intercept: bool = False, backend: str = "auto",
            solver: str = "eigh", n_targets_batch: int | None = None, key: str | None = None) -> Prepared:
    """Ridge from ``x`` made ready for targets: with ``eigh`` the folds' and the refit's decompositions
    are computed once here and reused by every ``fit`` (e.g. every voxel block of an encoding model).
    ``n_targets_batch`` is ``fit``'s default; ``key`` names the caller's config section in errors."""
    if len(alphas) == 0:
        raise InputError(f"{_setting(key, 'alphas')}: the ridge alpha grid is empty")
    if solver not in ("eigh", "himalaya"):
        raise InputError(f"{_setting(key, 'solver')}: '{solver}' is not one of eigh, himalaya")
    return Prepared(x, alphas, folds, fit_intercept, backend, solver, n_targets_batch, key)


class Prepared:
    def __init__(self, x, alphas, folds, fit_intercept, backend, solver, n_targets_batch=None, key=None):
        self.standardiser = Standardiser.fit(x)
        self.xs, self.n_trials = self.standardiser(x), x.shape[0]
        self.alphas, self.folds, self.fit_intercept, self.backend = alphas, folds, fit_intercept, backend
        self.n_targets_batch, self.key = n_targets_batch, key
        self.eigh = _EighSolver(self.xs, alphas, folds, fit_intercept, backend, key) if solver == "eigh" else None

    def fit(self, y: np.ndarray, n_targets_batch: int | None = None) -> RidgeFit:
        if self.n_trials != y.shape[0]:  # the caller aligned the rows: a mismatch is a bug, not bad input
            raise ValueError(f"ridge: {self.n_trials} trials of inputs but {y.shape[0]} rows of targets")
        y = np.asarray(y, dtype=np.float32)
        n_targets_batch = n_targets_batch or self.n_targets_batch or y.shape[1]
        if self.eigh is not None:
            weights, intercept, chosen = self.eigh.fit(y, n_targets_batch)
            return RidgeFit(weights, intercept, self.standardiser, chosen, self.eigh.name, self.eigh.components)
        weights, intercept, chosen, name = _fit_himalaya(self.xs, y, self.alphas, self.folds, self.fit_intercept,
                                                         n_targets_batch, self.backend, self.key)
        return RidgeFit(weights, intercept, self.standardiser, chosen, name)


def _fit_himalaya(xs, y, alphas, folds, fit_intercept, n_targets_batch, backend, key):
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    name = choose_backend(backend, key)
    alphas = np.asarray(alphas, dtype=np.float32)
    params = {"n_targets_batch": n_targets_batch, "n_targets_batch_refit": n_targets_batch}
    cv = KFold(n_splits=folds, shuffle=False)
    if xs.shape[0] < xs.shape[1]:
        model = KernelRidgeCV(alphas=alphas, kernel="linear", fit_intercept=fit_intercept, cv=cv, solver_params=params)
    else:
        model = RidgeCV(alphas=alphas, fit_intercept=fit_intercept, cv=cv, solver_params={**params, "warn": False})
    model.fit(xs, y)
    b = get_backend()
    chosen = np.asarray(b.to_numpy(model.best_alphas_), dtype=np.float64)
    if isinstance(model, KernelRidgeCV):
        weights = b.to_numpy(model.get_primal_coef(model.X_fit_))
    else:
        weights = b.to_numpy(model.coef_)
    intercept = b.to_numpy(model.intercept_) if fit_intercept else np.zeros(y.shape[1])
    return (np.asarray(weights, dtype=np.float32), np.asarray(intercept, dtype=np.float32), chosen,
            f"himalaya/{name}")


def eigh_kept(gram):
    """Eigenvalues and vectors of a float64 Gram matrix without the directions whose eigenvalue
    is zero to float64 rounding (see ``_Eigen``)."""
    import torch
    values, vectors = torch.linalg.eigh(gram)
    keep = values > values.max().clamp(min=0) * len(values) * torch.finfo(torch.float64).eps
    return values[keep], vectors[:, keep]


class _Eigen:
    """Ridge through the eigendecomposition of the smaller Gram matrix of a (centred) design ``x``.

    Predictions of rows ``z`` at alpha are ``project(z) @ (rhs(y) / (values + alpha))``:
    primal (X'X = V L V'): project(z) = z V, rhs(y) = V' X' y;
    dual   (XX' = U L U'): project(z) = z X' U, rhs(y) = U' y.
    The Gram matrix is formed and decomposed in float64: inputs that share a signal (voxels
    with a common fluctuation, correlated features) give it one eigenvalue thousands of
    times the others, and float32 rounding relative to that one buries the small ones.
    Directions whose eigenvalue is zero to float64 rounding (a rank-deficient design such
    as repeated images, or the direction removed by centring) carry no signal and are
    dropped, so tiny alphas do not amplify rounding; ``kept`` counts the others.
    """

    def __init__(self, x, gram=None):
        self.x, self.primal = x, x.shape[0] >= x.shape[1]
        if gram is None:
            x64 = x.double()
            gram = x64.T @ x64 if self.primal else x64 @ x64.T
        self.values, vectors = eigh_kept(gram)
        self.vectors = vectors.to(x.dtype)
        self.kept, self.size = len(self.values), len(gram)

    def project(self, z):
        return z @ self.vectors if self.primal else (z @ self.x.T) @ self.vectors

    def rhs(self, y):
        return self.vectors.T @ (self.x.T @ y) if self.primal else self.vectors.T @ y

    def weights(self, coef):
        """Primal weights (inputs, targets) from coefficients in the eigenbasis."""
        return self.vectors @ coef if self.primal else self.x.T @ (self.vectors @ coef)


def _backend_key(key: str | None) -> str:
    return f"{key}.backend" if key else "backend"


def _device(backend: str, key: str | None = None) -> str:
    """The torch device of a backend setting (``key``: the caller's config section, named by errors)."""
    if backend in ("torch_cuda", "cupy"):
        return devices.cuda_or_cpu("cuda", _backend_key(key))
    return devices.cuda_or_cpu("auto", _backend_key(key)) if backend == "auto" else "cpu"


def _fold_grams(x, splits):
    """float64 X'X and column sums of each fold's validation rows: the folds partition the trials,
    so every training Gram matrix is the total minus one fold's (one pass over ``x``)."""
    parts = []
    for _, val in splits:
        block = x[val].double()
        parts.append((block.T @ block, block.sum(0)))
    return parts, sum(g for g, _ in parts), sum(s for _, s in parts)


def _decompose(x, rows, fit_intercept, gram=None, total=None):
    """The _Eigen of ``x[rows]`` (centred when fitting an intercept) and the centring mean.

    ``gram`` and ``total`` (float64 X'X and column sums of those rows), when given, spare
    forming the Gram matrix again."""
    import torch
    part = x[rows]
    if not fit_intercept:
        return _Eigen(part, gram if part.shape[0] >= part.shape[1] else None), torch.zeros(x.shape[1], device=x.device)
    if gram is not None and part.shape[0] >= part.shape[1]:
        mean = total / part.shape[0]
        return _Eigen(part - mean.float(), gram - part.shape[0] * torch.outer(mean, mean)), mean.float()
    mean = part.double().mean(0).float()
    return _Eigen(part - mean), mean


class _EighSolver:
    """Per fold one decomposition (kept for all targets); each batch of targets crosses to the device once."""

    def __init__(self, xs, alphas, folds, fit_intercept, backend, key=None):
        import torch
        from sklearn.model_selection import KFold

        device = _device(backend, key)
        self.name = f"eigh/{'torch_cuda' if device == 'cuda' else 'torch'}"
        self.grid = torch.tensor(np.asarray(alphas, dtype=np.float64), device=device)
        self.fit_intercept, self.device = fit_intercept, device
        x = torch.from_numpy(xs).to(device)
        n_inputs = xs.shape[1]
        self.splits = [(torch.from_numpy(train).to(device), torch.from_numpy(val).to(device))
                       for train, val in KFold(n_splits=folds, shuffle=False).split(xs)]
        with torch.no_grad():
            primal = min(len(train) for train, _ in self.splits) >= n_inputs
            parts, gram, total = _fold_grams(x, self.splits) if primal else ([(None, None)] * folds, None, None)
            self.fits = []
            for (train, val), (g, s) in tqdm(list(zip(self.splits, parts)), desc="ridge: fold decompositions", unit="fold"):
                eigen, mean = _decompose(x, train, fit_intercept, None if g is None else gram - g,
                                         None if s is None else total - s)
                shrink = (1 / (eigen.values[None, :] + self.grid[:, None])).float()  # (alphas, components)
                self.fits.append((eigen, eigen.project(x[val] - mean), shrink))
            self.full, self.mean = _decompose(x, slice(None), fit_intercept, gram, total)  # the refit on all trials
        kept = [eigen.kept for eigen, _, _ in self.fits] + [self.full.kept]
        self.components = (min(kept), self.full.size)

    def fit(self, y, n_targets_batch):
        import torch
        grid, device, n_targets = self.grid, self.device, y.shape[1]
        weights = np.zeros((self.full.x.shape[1], n_targets), dtype=np.float32)
        intercept = np.zeros(n_targets, dtype=np.float32)
        chosen = np.zeros(n_targets)
        with torch.no_grad():
            for start in tqdm(range(0, n_targets, n_targets_batch), desc="ridge: target batches", unit="batch",
                              disable=n_targets <= n_targets_batch):  # one batch: nothing to wait for
                batch = slice(start, start + n_targets_batch)
                y_batch = torch.from_numpy(np.ascontiguousarray(y[:, batch])).to(device)
                scores = torch.zeros(len(grid), y_batch.shape[1], dtype=torch.float64, device=device)
                for (train, val), (eigen, projected, shrink) in zip(self.splits, self.fits):
                    y_train, y_val = y_batch[train], y_batch[val]
                    if self.fit_intercept:
                        offset = y_train.mean(0)
                        y_train, y_val = y_train - offset, y_val - offset
                    rhs = eigen.rhs(y_train)
                    for a in range(len(grid)):
                        prediction = projected @ (rhs * shrink[a, :, None])
                        scores[a] -= ((y_val - prediction) ** 2).mean(0).double()
                scores = scores / len(self.splits) + torch.log(grid)[:, None] * 1e-10  # ties to the larger alpha (himalaya)
                best = grid[scores.argmax(0)]
                offset = y_batch.mean(0) if self.fit_intercept else torch.zeros(y_batch.shape[1], device=device)
                coef = self.full.rhs(y_batch - offset) / (self.full.values[:, None] + best[None, :]).float()
                w = self.full.weights(coef)
                weights[:, batch] = w.cpu().numpy()
                intercept[batch] = (offset - self.mean @ w).cpu().numpy()
                chosen[batch] = best.cpu().numpy()
        return weights, intercept, chosen


def alpha_edges(chosen: np.ndarray, grid) -> tuple[float, float]:
    """Fractions of targets whose chosen alpha is the grid's smallest and largest value."""
    grid = np.asarray(grid, dtype=np.float64)
    return float(np.isclose(chosen, grid.min(), rtol=1e-4).mean()), float(np.isclose(chosen, grid.max(), rtol=1e-4).mean())
