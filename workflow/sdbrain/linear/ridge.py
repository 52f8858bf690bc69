"""Ridge regression: the one engine of the decoders, the encoders and banded ridge.

Inputs (voxels for decoders, features for encoders) are standardised with training
statistics; each target gets its own alpha from a grid by K-fold cross-validation
over training trials in their order (no shuffling, so that repeats of an image in
nearby trials do not leak across folds more than the acquisition order implies).
The CV score is himalaya's (mean squared error on the validation fold, averaged over
folds, ties to the larger alpha).

Solvers (``Settings.solver``):

- ``eigh`` (default): one eigendecomposition per fold of the smaller Gram matrix
  (X'X when trials outnumber inputs, else XX', the kernel form), after which every
  alpha costs one matrix product; in torch, on the GPU when present. It gives
  himalaya's alphas and predictions (``tests/test_decode.py``) several times faster,
  because himalaya takes a full SVD of each fold's design and forms an
  (alphas x test x train) hat matrix (``benchmarks/decoder.py``).
- ``himalaya``: himalaya's RidgeCV (or KernelRidgeCV with a linear kernel when
  trials are fewer than inputs), the library the method was published with.

Banded ridge (``sdbrain.linear.banded``) builds its search on ``Eigen``, ``gram``,
``eigh_kept``, ``device`` and ``Standardiser``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
from tqdm import tqdm

from sdbrain import devices
from sdbrain.errors import ArgumentError

SOLVERS = ("eigh", "himalaya")


@dataclass(frozen=True)
class Settings:
    """How a ridge model is fitted.

    Parameters
    ----------
    alphas : sequence of float
        The grid of regularisation strengths; each target gets its own by cross-validation.
    folds : int
        K of the K-fold cross-validation over training trials in their order.
    fit_intercept : bool
        Fit an intercept per target (targets centred on the training trials).
    backend : str
        'auto' (torch on the GPU where one is given or present, else on the CPU), 'torch', 'torch_cuda', or
        another himalaya backend for the himalaya solver.
    solver : str
        'eigh' or 'himalaya' (module docstring).
    n_targets_batch : int, optional
        Targets fitted at a time (all at once where None).
    """

    alphas: tuple[float, ...]
    folds: int = 5
    fit_intercept: bool = False
    backend: str = "auto"
    solver: str = "eigh"
    n_targets_batch: int | None = None

    def __post_init__(self):
        """Store ``alphas`` as a tuple of floats and check that it is not empty and ``solver`` is known."""
        object.__setattr__(self, "alphas", tuple(float(a) for a in self.alphas))
        if not self.alphas:
            raise ArgumentError("alphas", "the ridge alpha grid is empty")
        if self.solver not in SOLVERS:
            raise ArgumentError("solver", f"'{self.solver}' is not one of {', '.join(SOLVERS)}")

    @classmethod
    def pick(cls, values: Mapping) -> Settings:
        """Take the settings that ``values`` names (its other entries are not ridge's); defaults for the rest."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


def choose_backend(name: str = "auto") -> str:
    """Set himalaya's backend: 'auto' is torch_cuda where ``device`` gives the GPU, else torch (float32)."""
    from himalaya.backend import set_backend
    if name == "auto":
        name = "torch_cuda" if device("auto") == "cuda" else "torch"
    set_backend(name, on_error="raise")
    return name


def device(backend: str) -> str:
    """Return the torch device of a backend setting: 'cuda' for torch_cuda (and cupy), the GPU or the CPU for 'auto'."""
    if backend in ("torch_cuda", "cupy"):
        return devices.cuda_or_cpu("cuda", "backend", cpu="torch")
    return devices.cuda_or_cpu("auto", "backend", cpu="torch") if backend == "auto" else "cpu"


@dataclass
class Standardiser:
    """Column means and standard deviations of training inputs (a constant column keeps its scale of 1)."""

    mean: np.ndarray
    scale: np.ndarray

    @classmethod
    def fit(cls, x: np.ndarray) -> Standardiser:
        """Take the statistics of ``x`` (rows: trials), accumulated in float64."""
        mean = x.mean(0, dtype=np.float64)
        scale = x.std(0, dtype=np.float64)
        scale[scale == 0] = 1.0
        return cls(mean.astype(np.float32), scale.astype(np.float32))

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Standardise the rows of ``x`` with the training statistics (float32)."""
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
        """Predict the targets of the input rows ``x`` (float32)."""
        return (self.standardiser(x) @ self.weights + self.intercept).astype(np.float32)

    def describe(self) -> str:
        """Name the solver and backend, and for eigh how many directions of the design it kept."""
        if self.components is None:
            return self.backend
        kept, size = self.components
        return f"{self.backend} (kept {kept} of {size} directions, fewest over the folds and the refit)"


def fit(x: np.ndarray, y: np.ndarray, settings: Settings) -> RidgeFit:
    """Fit ridge from ``x`` (trials, inputs) to ``y`` (trials, targets)."""
    return prepare(x, settings).fit(y)


def prepare(x: np.ndarray, settings: Settings) -> Prepared:
    """Make ridge from ``x`` ready for targets.

    With the eigh solver the folds' and the refit's decompositions are computed once here and reused by every
    ``Prepared.fit`` (e.g. every voxel block of an encoding model).
    """
    return Prepared(x, settings)


class Prepared:
    """Ridge from standardised inputs, ready for any number of target blocks (``fit``)."""

    def __init__(self, x: np.ndarray, settings: Settings):
        self.standardiser = Standardiser.fit(x)
        self.xs, self.n_trials, self.settings = self.standardiser(x), x.shape[0], settings
        self.eigh = _EighSolver(self.xs, settings) if settings.solver == "eigh" else None

    def fit(self, y: np.ndarray) -> RidgeFit:
        """Fit the targets ``y`` (trials, targets), ``settings.n_targets_batch`` at a time."""
        if self.n_trials != y.shape[0]:  # the caller aligned the rows: a mismatch is a bug, not bad input
            raise ValueError(f"ridge: {self.n_trials} trials of inputs but {y.shape[0]} rows of targets")
        y = np.asarray(y, dtype=np.float32)
        batch = self.settings.n_targets_batch or y.shape[1]
        if self.eigh is not None:
            weights, intercept, chosen = self.eigh.fit(y, batch)
            return RidgeFit(weights, intercept, self.standardiser, chosen, self.eigh.name, self.eigh.components)
        weights, intercept, chosen, name = _fit_himalaya(self.xs, y, self.settings, batch)
        return RidgeFit(weights, intercept, self.standardiser, chosen, name)

    def stream(self, y: np.ndarray, x_test: np.ndarray, out: np.ndarray, n_targets_batch: int) -> np.ndarray:
        """Fit the targets ``y`` a block at a time and write the predictions of ``x_test`` into ``out``.

        For targets too many to hold with their weights (decoded BLIP tokens: 173,568 per image): ``y``
        (trials, targets) and ``out`` (test rows, targets) may be memory-mapped; a block's targets are read,
        fitted, predicted (from the eigenbasis: its weights are never formed) and written, so memory grows with
        ``n_targets_batch`` (``target_batch``), not with the number of targets. Gives what ``fit(y).predict(x_test)`` gives.
        Returns the alpha chosen per target.
        """
        import torch
        if self.eigh is None:
            raise ArgumentError("solver", "streaming target blocks needs the eigh solver (one decomposition for "
                                          "every block)")
        if self.n_trials != y.shape[0] or out.shape != (x_test.shape[0], y.shape[1]):
            raise ValueError(f"ridge: targets {y.shape} and predictions {out.shape} do not match {self.n_trials} "
                             f"trials and {x_test.shape[0]} test rows")
        chosen = np.zeros(y.shape[1])
        # the test rows in the refit's eigenbasis, once: a block's predictions are then (test x components) @ its
        # coefficients, without forming its weights (inputs x targets: the larger product where voxels are many)
        xt = torch.from_numpy(self.standardiser(x_test)).to(self.eigh.device)
        with torch.no_grad():
            projected = self.eigh.full.project(xt - self.eigh.mean)
        del xt
        for batch, coef, offset, best in self.eigh.blocks(y, n_targets_batch):
            out[:, batch] = (projected @ coef + offset).cpu().numpy()
            chosen[batch] = best.cpu().numpy()
        return chosen


# a block's peak resident memory over the arrays target_batch counts: measured 1.1 (primal) to 1.5 (dual) with
# glibc's settings of the workflow's jobs (benchmarks/decoder_stream.py), which keep freed memory for reuse
ALLOCATOR_SLACK = 1.75


def target_batch(memory_mb: float, n_trials: int, n_inputs: int, n_test: int, n_alphas: int) -> int:
    """Targets per block of ``Prepared.stream`` whose working memory stays within ``memory_mb``.

    A block of b targets holds, in float32: its targets (b x trials) and their fold copies, centred, (up to 4
    more), their projections, shrunk and refit coefficients (3 x components, at most min(trials, inputs)), its
    weights (b x inputs) and its predictions (2 x test rows, on the device and copied out); the CV scores in
    float64; times ``ALLOCATOR_SLACK``. The design and its decompositions are held once, whatever the number of
    targets, and are not part of the budget.
    """
    arrays = 4 * (5 * n_trials + 3 * min(n_trials, n_inputs) + n_inputs + 2 * n_test) + 8 * n_alphas
    return max(1, int(memory_mb * 2**20 // (arrays * ALLOCATOR_SLACK)))


def _fit_himalaya(xs, y, settings: Settings, n_targets_batch: int):
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold

    name = choose_backend(settings.backend)
    alphas = np.asarray(settings.alphas, dtype=np.float32)
    params = {"n_targets_batch": n_targets_batch, "n_targets_batch_refit": n_targets_batch}
    cv = KFold(n_splits=settings.folds, shuffle=False)
    if xs.shape[0] < xs.shape[1]:
        model = KernelRidgeCV(alphas=alphas, kernel="linear", fit_intercept=settings.fit_intercept, cv=cv,
                              solver_params=params)
    else:
        model = RidgeCV(alphas=alphas, fit_intercept=settings.fit_intercept, cv=cv,
                        solver_params={**params, "warn": False})
    model.fit(xs, y)
    b = get_backend()
    chosen = np.asarray(b.to_numpy(model.best_alphas_), dtype=np.float64)
    if isinstance(model, KernelRidgeCV):
        weights = b.to_numpy(model.get_primal_coef(model.X_fit_))
    else:
        weights = b.to_numpy(model.coef_)
    intercept = b.to_numpy(model.intercept_) if settings.fit_intercept else np.zeros(y.shape[1])
    return (np.asarray(weights, dtype=np.float32), np.asarray(intercept, dtype=np.float32), chosen,
            f"himalaya/{name}")


def gram(x, primal: bool = True):
    """Return the float64 Gram matrix of the torch matrix ``x``: X'X (``primal``) or XX'."""
    x64 = x.double()
    return x64.T @ x64 if primal else x64 @ x64.T


def eigh_kept(gram_matrix):
    """Decompose a float64 Gram matrix, dropping the directions whose eigenvalue is zero to rounding.

    Returns the eigenvalues and vectors without the directions whose eigenvalue is zero to float64
    rounding (see ``Eigen``).
    """
    import torch
    values, vectors = torch.linalg.eigh(gram_matrix)
    keep = values > values.max().clamp(min=0) * len(values) * torch.finfo(torch.float64).eps
    return values[keep], vectors[:, keep]


class Eigen:
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

    With ``scale`` (banded ridge's square roots of the band weights, one per column) the design is X D: ``gram``
    must then be its Gram matrix, ``project`` takes rows of the unscaled design, and ``basis`` maps scaled rows to
    the eigenbasis (V, or (X D)' U in the dual form, formed once).
    """

    def __init__(self, x, gram_matrix=None, scale=None):
        self.x, self.scale, self.primal = x, scale, x.shape[0] >= x.shape[1]
        if gram_matrix is None:
            gram_matrix = gram(x if scale is None else x * scale, self.primal)
        self.values, vectors = eigh_kept(gram_matrix)
        self.vectors = vectors.to(x.dtype)
        self.kept, self.size = len(self.values), len(gram_matrix)
        self.basis = self.vectors if self.primal or scale is None else (x * scale).T @ self.vectors

    def project(self, z):
        """Rows ``z`` of the (unscaled) design in the eigenbasis."""
        if self.scale is not None:
            return (z * self.scale) @ self.basis
        return z @ self.vectors if self.primal else (z @ self.x.T) @ self.vectors

    def rhs(self, y):
        """Targets ``y`` (rows of the design) in the eigenbasis."""
        if not self.primal:
            return self.vectors.T @ y
        xty = self.x.T @ y
        return self.vectors.T @ (xty if self.scale is None else self.scale[:, None] * xty)

    def weights(self, coef):
        """Primal weights (inputs, targets) of the (scaled) design from coefficients in the eigenbasis."""
        if self.primal:
            return self.vectors @ coef
        return self.x.T @ (self.vectors @ coef) if self.scale is None else self.basis @ coef


def _fold_grams(x, splits):
    """Return the float64 X'X and column sums of each fold's validation rows, and their totals.

    The folds partition the trials, so every training Gram matrix is the total minus one fold's
    (one pass over ``x``).
    """
    parts = []
    for _, val in splits:
        block = x[val]
        parts.append((gram(block), block.double().sum(0)))
    return parts, sum(g for g, _ in parts), sum(s for _, s in parts)


def _decompose(x, rows, fit_intercept, gram_matrix=None, total=None):
    """Return the Eigen of ``x[rows]`` (centred when fitting an intercept) and the centring mean.

    ``gram_matrix`` and ``total`` (float64 X'X and column sums of those rows), when given, spare
    forming the Gram matrix again.
    """
    import torch
    part = x[rows]
    primal = part.shape[0] >= part.shape[1]
    if not fit_intercept:
        return Eigen(part, gram_matrix if primal else None), torch.zeros(x.shape[1], device=x.device)
    if gram_matrix is not None and primal:
        mean = total / part.shape[0]
        return Eigen(part - mean.float(), gram_matrix - part.shape[0] * torch.outer(mean, mean)), mean.float()
    mean = part.double().mean(0).float()
    return Eigen(part - mean), mean


class _EighSolver:
    """Per fold one decomposition (kept for all targets); each batch of targets crosses to the device once."""

    def __init__(self, xs, settings: Settings):
        import torch
        from sklearn.model_selection import KFold

        self.device = device(settings.backend)
        self.name = f"eigh/{'torch_cuda' if self.device == 'cuda' else 'torch'}"
        self.grid = torch.tensor(np.asarray(settings.alphas, dtype=np.float64), device=self.device)
        self.fit_intercept = settings.fit_intercept
        x = torch.from_numpy(xs).to(self.device)
        n_inputs = xs.shape[1]
        self.splits = [(torch.from_numpy(train).to(self.device), torch.from_numpy(val).to(self.device))
                       for train, val in KFold(n_splits=settings.folds, shuffle=False).split(xs)]
        with torch.no_grad():
            primal = min(len(train) for train, _ in self.splits) >= n_inputs
            parts, total_gram, total = (_fold_grams(x, self.splits) if primal
                                        else ([(None, None)] * settings.folds, None, None))
            self.fits = []
            for (train, val), (g, s) in tqdm(list(zip(self.splits, parts)), desc="ridge: fold decompositions",
                                             unit="fold"):
                eigen, mean = _decompose(x, train, self.fit_intercept, None if g is None else total_gram - g,
                                         None if s is None else total - s)
                shrink = (1 / (eigen.values[None, :] + self.grid[:, None])).float()  # (alphas, components)
                projected = eigen.project(x[val] - mean)
                if not eigen.primal:  # the dual form's rhs needs only the eigenvectors: drop the fold's design copy
                    eigen.x = None
                self.fits.append((eigen, projected, shrink))
            # the refit on all trials
            self.full, self.mean = _decompose(x, slice(None), self.fit_intercept, total_gram, total)
        kept = [eigen.kept for eigen, _, _ in self.fits] + [self.full.kept]
        self.components = (min(kept), self.full.size)

    def fit(self, y, n_targets_batch):
        """Weights (inputs, targets), intercepts and chosen alphas of all targets, ``n_targets_batch`` at a time."""
        n_targets = y.shape[1]
        weights = np.zeros((self.full.x.shape[1], n_targets), dtype=np.float32)
        intercept = np.zeros(n_targets, dtype=np.float32)
        chosen = np.zeros(n_targets)
        for batch, coef, offset, best in self.blocks(y, n_targets_batch):
            w = self.full.weights(coef)
            weights[:, batch], intercept[batch] = w.cpu().numpy(), (offset - self.mean @ w).cpu().numpy()
            chosen[batch] = best.cpu().numpy()
        return weights, intercept, chosen

    def blocks(self, y, n_targets_batch):
        """Yield (targets, refit coefficients in the eigenbasis, target offsets, chosen alphas) of each block.

        On the device. A block's predictions of rows z are ``full.project(z - mean) @ coef + offset``; its primal
        weights ``full.weights(coef)``.

        Only one block's targets are read from ``y`` (which may be memory-mapped) at a time.
        """
        import torch
        grid, device, n_targets = self.grid, self.device, y.shape[1]
        with torch.no_grad():
            for start in tqdm(range(0, n_targets, n_targets_batch), desc="ridge: target batches", unit="batch",
                              disable=n_targets <= n_targets_batch):  # one batch: nothing to wait for
                batch = slice(start, start + n_targets_batch)
                y_batch = torch.from_numpy(np.ascontiguousarray(y[:, batch], dtype=np.float32)).to(device)
                scores = torch.zeros(len(grid), y_batch.shape[1], dtype=torch.float64, device=device)
                # in place where a copy is ours: a block's memory is what target_batch counts
                for (train, val), (eigen, projected, shrink) in zip(self.splits, self.fits):
                    y_train, y_val = y_batch[train], y_batch[val]  # copies
                    if self.fit_intercept:
                        offset = y_train.mean(0)
                        y_train.sub_(offset), y_val.sub_(offset)
                    rhs = eigen.rhs(y_train)
                    del y_train
                    for a in range(len(grid)):
                        prediction = projected @ (rhs * shrink[a, :, None])
                        scores[a] -= prediction.sub_(y_val).square_().mean(0).double()
                    del rhs, y_val, prediction
                # ties to the larger alpha (himalaya)
                scores = scores / len(self.splits) + torch.log(grid)[:, None] * 1e-10
                best = grid[scores.argmax(0)]
                offset = y_batch.mean(0) if self.fit_intercept else torch.zeros(y_batch.shape[1], device=device)
                centred = y_batch - offset
                del y_batch
                coef = self.full.rhs(centred) / (self.full.values[:, None] + best[None, :]).float()
                del centred
                yield batch, coef, offset, best


def alpha_edges(chosen: np.ndarray, grid) -> tuple[float, float]:
    """Fractions of targets whose chosen alpha is the grid's smallest and largest value."""
    grid = np.asarray(grid, dtype=np.float64)
    return float(np.isclose(chosen, grid.min(), rtol=1e-4).mean()), float(np.isclose(chosen, grid.max(), rtol=1e-4).mean())
