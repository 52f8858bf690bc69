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

from .errors import InputError


def choose_backend(name: str = "auto") -> str:
    """'auto' -> torch_cuda when a GPU is present, else the torch CPU backend (float32)."""
    from himalaya.backend import set_backend
    if name == "auto":
        import torch
        name = "torch_cuda" if torch.cuda.is_available() else "torch"
    set_backend(name, on_error="raise")
    return name


@dataclass
class Standardiser:
    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> "Standardiser":
        mean = x.mean(0, dtype=np.float64)
        scale = x.std(0, dtype=np.float64)
        scale[scale == 0] = 1.0
        return cls(mean.astype(np.float32), scale.astype(np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return ((x - self.mean) / self.scale).astype(np.float32)


@dataclass
class Decoder:
    """A fitted ridge model: predictions for new inputs, and the alpha chosen per target."""
    weights: np.ndarray    # (inputs, targets), on standardised inputs
    intercept: np.ndarray  # (targets,)
    standardiser: Standardiser
    alphas: np.ndarray
    backend: str

    def predict(self, x: np.ndarray) -> np.ndarray:
        return (self.standardiser(x) @ self.weights + self.intercept).astype(np.float32)


def fit(x: np.ndarray, y: np.ndarray, alphas, folds: int = 5, fit_intercept: bool = False,
        n_targets_batch: int | None = None, backend: str = "auto", solver: str = "eigh") -> Decoder:
    """Fit ridge from ``x`` (trials, inputs) to ``y`` (trials, targets)."""
    if len(alphas) == 0:
        raise InputError("config key 'decode.alphas': the alpha grid is empty")
    if x.shape[0] != y.shape[0]:
        raise InputError(f"ridge: {x.shape[0]} trials of inputs but {y.shape[0]} rows of targets")
    standardiser = Standardiser.fit(x)
    xs = standardiser(x)
    y = np.asarray(y, dtype=np.float32)
    n_targets_batch = n_targets_batch or y.shape[1]
    if solver == "himalaya":
        weights, intercept, chosen, name = _fit_himalaya(xs, y, alphas, folds, fit_intercept, n_targets_batch, backend)
    elif solver == "eigh":
        weights, intercept, chosen, name = _fit_eigh(xs, y, alphas, folds, fit_intercept, n_targets_batch, backend)
    else:
        raise InputError(f"ridge solver '{solver}': expected eigh or himalaya")
    return Decoder(weights, intercept, standardiser, chosen, name)


def _fit_himalaya(xs, y, alphas, folds, fit_intercept, n_targets_batch, backend):
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    name = choose_backend(backend)
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


class _Eigen:
    """Ridge through the eigendecomposition of the smaller Gram matrix of a (centred) design ``x``.

    Predictions of rows ``z`` at alpha are ``project(z) @ (rhs(y) / (values + alpha))``:
    primal (X'X = V L V'): project(z) = z V, rhs(y) = V' X' y;
    dual   (XX' = U L U'): project(z) = z X' U, rhs(y) = U' y.
    Directions with (numerically) zero eigenvalue carry no signal (X'y or U'y is zero
    there) and are dropped, so tiny alphas do not amplify rounding.
    """

    def __init__(self, x):
        import torch
        self.x, self.primal = x, x.shape[0] >= x.shape[1]
        gram = x.T @ x if self.primal else x @ x.T
        values, vectors = torch.linalg.eigh(gram)
        keep = values > values.max().clamp(min=0) * gram.shape[0] * torch.finfo(x.dtype).eps
        self.values, self.vectors = values[keep], vectors[:, keep]

    def project(self, z):
        return z @ self.vectors if self.primal else (z @ self.x.T) @ self.vectors

    def rhs(self, y):
        return self.vectors.T @ (self.x.T @ y) if self.primal else self.vectors.T @ y

    def weights(self, coef):
        """Primal weights (inputs, targets) from coefficients in the eigenbasis."""
        return self.vectors @ coef if self.primal else self.x.T @ (self.vectors @ coef)


def _device(backend: str) -> str:
    import torch
    if backend in ("torch_cuda", "cupy") or (backend == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise InputError(f"ridge backend '{backend}' requested but no CUDA GPU is available")
        return "cuda"
    return "cpu"


def _fit_eigh(xs, y, alphas, folds, fit_intercept, n_targets_batch, backend):
    """Per fold one decomposition (kept for all targets); each batch of targets crosses to the device once."""
    import torch
    from sklearn.model_selection import KFold

    device = _device(backend)
    grid = torch.tensor(np.asarray(alphas, dtype=np.float64), device=device)
    x = torch.from_numpy(xs).to(device)
    n_inputs, n_targets = xs.shape[1], y.shape[1]
    splits = [(torch.from_numpy(train).to(device), torch.from_numpy(val).to(device))
              for train, val in KFold(n_splits=folds, shuffle=False).split(xs)]
    weights = np.zeros((n_inputs, n_targets), dtype=np.float32)
    intercept = np.zeros(n_targets, dtype=np.float32)
    chosen = np.zeros(n_targets)
    with torch.no_grad():
        fits = []
        for train, val in splits:
            x_train, x_val = x[train], x[val]
            if fit_intercept:
                mean = x_train.mean(0)
                x_train, x_val = x_train - mean, x_val - mean
            eigen = _Eigen(x_train)
            shrink = (1 / (eigen.values[None, :].double() + grid[:, None])).float()  # (alphas, components)
            fits.append((eigen, eigen.project(x_val), shrink))
        mean = x.mean(0) if fit_intercept else torch.zeros(n_inputs, device=device)
        full = _Eigen(x - mean)  # for the refit on all training trials
        for start in range(0, n_targets, n_targets_batch):
            batch = slice(start, start + n_targets_batch)
            y_batch = torch.from_numpy(np.ascontiguousarray(y[:, batch])).to(device)
            scores = torch.zeros(len(grid), y_batch.shape[1], dtype=torch.float64, device=device)
            for (train, val), (eigen, projected, shrink) in zip(splits, fits):
                y_train, y_val = y_batch[train], y_batch[val]
                if fit_intercept:
                    offset = y_train.mean(0)
                    y_train, y_val = y_train - offset, y_val - offset
                rhs = eigen.rhs(y_train)
                for a in range(len(grid)):
                    prediction = projected @ (rhs * shrink[a, :, None])
                    scores[a] -= ((y_val - prediction) ** 2).mean(0).double()
            scores = scores / folds + torch.log(grid)[:, None] * 1e-10  # ties go to the larger alpha (as himalaya)
            best = grid[scores.argmax(0)]
            offset = y_batch.mean(0) if fit_intercept else torch.zeros(y_batch.shape[1], device=device)
            coef = full.rhs(y_batch - offset) / (full.values[:, None].double() + best[None, :]).float()
            w = full.weights(coef)
            weights[:, batch] = w.cpu().numpy()
            intercept[batch] = (offset - mean @ w).cpu().numpy()
            chosen[batch] = best.cpu().numpy()
    return weights, intercept, chosen, f"eigh/{'torch_cuda' if device == 'cuda' else 'torch'}"


def alpha_edges(chosen: np.ndarray, grid) -> tuple[float, float]:
    """Fractions of targets whose chosen alpha is the grid's smallest and largest value."""
    grid = np.asarray(grid, dtype=np.float64)
    return float(np.isclose(chosen, grid.min(), rtol=1e-4).mean()), float(np.isclose(chosen, grid.max(), rtol=1e-4).mean())
