"""Ridge regression with himalaya: backend choice, standardisation, per-target alpha by CV.

Voxels are standardised with training statistics; each target gets its own alpha
from a grid by K-fold cross-validation over training trials in their order (no
shuffling, so that repeats of an image in nearby trials do not leak across folds
more than the acquisition order implies). When there are fewer trials than voxels
the same model is solved in its kernel form (KernelRidgeCV, linear kernel), which
is cheaper and gives the same predictions.
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
    """A fitted ridge decoder: predictions for new betas, and the alpha chosen per target."""
    model: object
    standardiser: Standardiser
    alphas: np.ndarray
    backend: str

    def predict(self, x: np.ndarray) -> np.ndarray:
        from himalaya.backend import get_backend
        backend = get_backend()
        return np.asarray(backend.to_numpy(self.model.predict(self.standardiser(x))), dtype=np.float32)


def fit(x: np.ndarray, y: np.ndarray, alphas, folds: int = 5, fit_intercept: bool = False,
        n_targets_batch: int | None = None, backend: str = "auto") -> Decoder:
    """Fit ridge from ``x`` (trials, voxels) to ``y`` (trials, targets)."""
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    if len(alphas) == 0:
        raise InputError("config key 'decode.alphas': the alpha grid is empty")
    if x.shape[0] != y.shape[0]:
        raise InputError(f"ridge: {x.shape[0]} trials of betas but {y.shape[0]} rows of targets")
    name = choose_backend(backend)
    standardiser = Standardiser.fit(x)
    xs = standardiser(x)
    alphas = np.asarray(alphas, dtype=np.float32)
    params = {"n_targets_batch": n_targets_batch, "n_targets_batch_refit": n_targets_batch}
    cv = KFold(n_splits=folds, shuffle=False)
    if xs.shape[0] < xs.shape[1]:
        model = KernelRidgeCV(alphas=alphas, kernel="linear", fit_intercept=fit_intercept, cv=cv, solver_params=params)
    else:
        model = RidgeCV(alphas=alphas, fit_intercept=fit_intercept, cv=cv, solver_params={**params, "warn": False})
    model.fit(xs, np.asarray(y, dtype=np.float32))
    chosen = np.asarray(get_backend().to_numpy(model.best_alphas_), dtype=np.float64)
    return Decoder(model, standardiser, chosen, name)


def alpha_edges(chosen: np.ndarray, grid) -> tuple[float, float]:
    """Fractions of targets whose chosen alpha is the grid's smallest and largest value."""
    grid = np.asarray(grid, dtype=np.float64)
    return float(np.isclose(chosen, grid.min(), rtol=1e-4).mean()), float(np.isclose(chosen, grid.max(), rtol=1e-4).mean())
