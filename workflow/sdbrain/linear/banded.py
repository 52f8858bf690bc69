"""Banded ridge joint models (``encode.joint: banded``): one alpha per feature space and voxel.

The paper's joint model (``sdbrain.linear.encode``) concatenates z and another space X and fits
one alpha per voxel, so the wider or noisier space sets the penalty of both. Banded ridge
(himalaya's BandedRidgeCV, random search on the simplex of band weights times the
``encode.alphas`` grid) lets each space have its own. Inputs are the same PCA-reduced
spaces, standardised on the training trials as ``sdbrain.linear.ridge`` does, with the same
K-fold CV in trial order and the same averaged test set.

Per voxel: the joint r with its p and BH-FDR mask, and the split r^2 of each space
(himalaya's product measure, ``r2_score_split``: each space's share of the test R^2 of
the joint prediction; the shares sum to it). Unique variance keeps the paper's
definition, R2(z+X) - R2(X alone) with R2 = max(r, 0)^2, now with the banded R2(z+X).

Solvers (``encode.banded.solver``):
- ``eigh`` (default): himalaya's random search (the same band weights, folds, score and
  choice per voxel), with one float64 Gram eigendecomposition per fold and band weight
  that serves every voxel, and one per chosen band weight for the refit; in torch, on
  the GPU when present, as ``sdbrain.linear.ridge``'s eigh solver. himalaya instead takes a full
  SVD of each fold's scaled design per band weight and again for every voxel block
  (``benchmarks/banded.py``).
- ``himalaya``: himalaya's BandedRidgeCV, one call per voxel block.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from tqdm import tqdm

from sdbrain.errors import ArgumentError
from sdbrain.linear import encode, ridge, stats
from sdbrain.linear.encode import Reduced, Responses, planned_block

SOLVERS = ("eigh", "himalaya")


@dataclass(frozen=True)
class Settings:
    """The random search of band weights.

    Parameters
    ----------
    n_iter : int
        Band weights tried (Dirichlet samples on the simplex, the first replaced by equal weights), each with
        every alpha of the ridge grid.
    concentration : sequence of float
        The Dirichlet concentrations the samples cycle through (himalaya's ``generate_dirichlet_samples``).
    solver : str
        'eigh' (shared decompositions) or 'himalaya' (BandedRidgeCV per voxel block): module docstring.
    """

    n_iter: int = 20
    concentration: tuple[float, ...] = (0.1, 1.0)
    solver: str = "eigh"

    def __post_init__(self):
        """Store ``concentration`` as a tuple of floats and check ``solver``."""
        object.__setattr__(self, "concentration", tuple(float(c) for c in self.concentration))
        if self.solver not in SOLVERS:
            raise ArgumentError("solver", f"'{self.solver}' is not one of {', '.join(SOLVERS)}")

    @classmethod
    def pick(cls, values: Mapping) -> Settings:
        """Take the settings that ``values`` names (e.g. config section encode.banded); defaults for the rest."""
        return cls(**{name: values[name] for name in ("n_iter", "concentration", "solver") if name in values})


@dataclass
class Banded:
    """A banded joint model's scores per voxel."""

    r: np.ndarray             # (voxels,) joint model's Pearson r on the test set
    p: np.ndarray
    significant: np.ndarray
    split: np.ndarray         # (spaces, voxels) each space's share of the test R^2
    alphas: np.ndarray        # (spaces, voxels) each space's effective ridge penalty
    backend: str


def fit(parts: list[Reduced], data: Responses, settings: encode.Settings, band: Settings, seed: int) -> Banded:
    """Fit the banded joint model of ``parts`` (each reduced on its own) for a subject's voxels."""
    return fit_voxels([x.train for x in parts], data.train_rows, [x.test for x in parts], data.y_train,
                      data.y_test, settings, band, seed, columns=data.columns)


def fit_voxels(x_train: list, train_rows, x_test: list, y_train, y_test, settings: encode.Settings, band: Settings,
               seed: int, columns=None) -> Banded:
    """Fit banded ridge from the spaces ``x_train`` to the voxels ``columns``.

    With the himalaya solver voxels are fitted in blocks, with eigh in batches that share the decompositions.

    Parameters
    ----------
    x_train, x_test : list of arrays
        Each space's rows: one per training image, and one per test image.
    train_rows : array of int
        Each training trial's row in ``x_train`` (as ``encode.fit_voxels``).
    y_train, y_test : arrays
        Responses (trials, voxels) and (test images, voxels); ``y_train`` may be a memory map.
    settings : encode.Settings
        The ridge grid and CV, the FDR level and the memory budget of voxel blocks.
    band : Settings
        The search of band weights.
    seed : int
        Seeds the Dirichlet samples.
    columns : array of int, optional
        The voxels (columns of the responses) to fit; all where None.
    """
    from sklearn.model_selection import KFold

    columns = np.arange(y_train.shape[1]) if columns is None else np.asarray(columns)
    scalers = [ridge.Standardiser.fit(x[train_rows]) for x in x_train]
    train = [s(x[train_rows]) for s, x in zip(scalers, x_train)]
    test = [s(x) for s, x in zip(scalers, x_test)]
    # the same folds as sdbrain.linear.ridge: K-fold over trials in their order
    folds = KFold(n_splits=settings.ridge.folds, shuffle=False)
    n_voxels, n_spaces = len(columns), len(train)
    r, split, alphas = np.full(n_voxels, np.nan), np.zeros((n_spaces, n_voxels)), np.zeros((n_spaces, n_voxels))
    size = block_size(settings, band.solver, len(train_rows), sum(x.shape[1] for x in train), len(x_test[0]),
                      n_spaces)
    if band.solver == "eigh":
        search = EighSearch(train, test, settings.ridge, band, seed, folds)
        batch = min(size, settings.ridge.n_targets_batch or size)
        read = lambda index: np.asarray(y_train[:, columns[index]], dtype=np.float32)  # noqa: E731
        for index, parts, penalties in search.fit(read, n_voxels, batch):
            observed = np.asarray(y_test[:, columns[index]], dtype=np.float32)
            r[index] = stats.pearson_columns(parts.sum(0), observed)
            split[:, index], alphas[:, index] = split_r2(observed, parts), penalties
        backend = search.name
    else:
        backend = f"himalaya BandedRidgeCV/{ridge.choose_backend(settings.ridge.backend)}"
        for start in tqdm(range(0, n_voxels, size), desc=f"banded voxel blocks of {size}", unit="block"):
            block = slice(start, start + size)
            targets = columns[block]
            parts, alphas[:, block] = fit_block(train, np.asarray(y_train[:, targets], dtype=np.float32), test,
                                                settings.ridge, band, seed, folds)
            observed = np.asarray(y_test[:, targets], dtype=np.float32)
            r[block] = stats.pearson_columns(parts.sum(0), observed)
            split[:, block] = split_r2(observed, parts)
    p = stats.correlation_pvalues(r, y_test.shape[0])
    return Banded(r, p, stats.fdr_mask(p, settings.fdr_q), split, alphas, backend)


def fit_block(train: list, y: np.ndarray, test: list, fitting: ridge.Settings, band: Settings, seed: int, folds):
    """Fit one block of voxels with himalaya's BandedRidgeCV.

    Returns each space's part of the test prediction (spaces, test images, voxels) and each space's penalty per
    voxel (spaces, voxels). The intercept goes to no space: the split is scored on centred responses.
    """
    from himalaya.backend import get_backend
    from himalaya.ridge import BandedRidgeCV

    batch = fitting.n_targets_batch or y.shape[1]
    model = BandedRidgeCV(groups="input", cv=folds, fit_intercept=fitting.fit_intercept,
                          random_state=seed, solver="random_search",
                          solver_params={"n_iter": band.n_iter, "concentration": list(band.concentration),
                                         "alphas": np.asarray(fitting.alphas, dtype=np.float32),
                                         "n_targets_batch": batch, "n_targets_batch_refit": batch,
                                         "progress_bar": False})
    model.fit(train, y)
    b = get_backend()
    coef = np.asarray(b.to_numpy(model.coef_), dtype=np.float32)
    edges = np.cumsum([0] + [x.shape[1] for x in test])
    parts = np.stack([x @ coef[lo:hi] for x, lo, hi in zip(test, edges[:-1], edges[1:])])
    # deltas = log(band weight / alpha): the penalty on each space is exp(-delta)
    return parts, np.exp(-np.asarray(b.to_numpy(model.deltas_), dtype=np.float64))


def band_weights(band: Settings, n_spaces: int, seed: int) -> np.ndarray:
    """Draw himalaya's random search candidates: ``n_iter`` Dirichlet samples (``seed``).

    The first is replaced by equal weights; the weights are rounded to float32 as himalaya uses them
    (returned as float64).
    """
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import generate_dirichlet_samples

    gammas = generate_dirichlet_samples(n_samples=band.n_iter, n_kernels=n_spaces,
                                        concentration=list(band.concentration), random_state=seed)
    gammas = np.array(get_backend().to_numpy(gammas), dtype=np.float64)
    gammas[0] = 1 / n_spaces
    return gammas.astype(np.float32).astype(np.float64)


def _scaled(rows, gram, d64):
    """Return the float64 Gram matrix of ``rows`` scaled by ``d64`` per column.

    D (X'X) D from ``gram`` (the primal side, formed once per fold), or X D^2 X' (the dual side,
    which changes with the band weight). float64 for the reason ``ridge.Eigen`` gives.
    """
    if gram is not None:
        import torch
        return gram * torch.outer(d64, d64)
    x = rows.double()
    return (x * d64 ** 2) @ x.T


def _primal_gram(rows):
    """``ridge.gram`` of ``rows`` where they are the primal side (at least as many rows as columns), else None."""
    return ridge.gram(rows) if rows.shape[0] >= rows.shape[1] else None


class EighSearch:
    """himalaya's random search (``solve_group_ridge_random_search``) with decompositions shared by all voxels.

    The folds are the outer loop so that one fold's float64 Gram matrix is alive at a time;
    for each band weight it is scaled (D G D, D the square roots of the weights on each
    space's columns), decomposed once, and every voxel streams through it in batches,
    adding each alpha's validation score to a (band weights, alphas, voxels) table. The
    choice per voxel then follows himalaya (``select``): per band weight the best alpha by
    the mean over folds of minus the validation mean squared error, and the band weights
    in order, a later one taken only when it beats the best so far by more than float32's
    epsilon. The refit on all trials needs one decomposition per band weight
    that some voxel chose. Decompositions: n_iter x folds + at most n_iter, for any number
    of voxels.
    """

    def __init__(self, train: list, test: list, fitting: ridge.Settings, band: Settings, seed: int, folds):
        import torch
        self.device = ridge.device(fitting.backend)
        self.name = f"banded eigh/{'torch_cuda' if self.device == 'cuda' else 'torch'}"
        self.gammas = band_weights(band, len(train), seed)
        self.grid = np.asarray(fitting.alphas, dtype=np.float32).astype(np.float64)
        widths = [x.shape[1] for x in train]
        self.space = np.repeat(np.arange(len(train)), widths)  # each column's space
        self.edges = np.cumsum([0] + widths)
        self.fit_intercept = fitting.fit_intercept
        self.x = torch.from_numpy(np.hstack(train)).to(self.device)
        self.test = torch.from_numpy(np.hstack(test)).to(self.device)
        # fold indices on the device, where the rows they pick live
        self.splits = [(torch.from_numpy(train).to(self.device), torch.from_numpy(val).to(self.device))
                       for train, val in folds.split(np.zeros(self.x.shape[0]))]

    def _scale(self, gamma):
        """float32 and float64 square roots of the band weights on each column (himalaya scales in float32)."""
        import torch
        d = np.sqrt(gamma.astype(np.float32))[self.space]
        return torch.from_numpy(d).to(self.device), torch.from_numpy(d.astype(np.float64)).to(self.device)

    def _centre(self, rows):
        """Return the mean of ``rows`` (float64 sum, float32 result), zero without an intercept."""
        import torch
        if not self.fit_intercept:
            return torch.zeros(rows.shape[1], device=rows.device, dtype=rows.dtype)
        return rows.double().mean(0).to(rows.dtype)

    def fit(self, read, n_voxels: int, batch: int):
        """Fit all ``n_voxels``: search band weights and alphas, then refit, yielding voxel blocks.

        Yields (voxel indices, parts (spaces, test images, voxels), penalties (spaces, voxels)) for all
        ``n_voxels``; ``read(indices)`` gives their training responses (trials, voxels).
        """
        gamma, alpha = self.select(self.scores(read, n_voxels, batch))
        yield from self.refit(read, gamma, alpha, batch)

    def scores(self, read, n_voxels: int, batch: int) -> np.ndarray:
        """Return validation scores summed over folds: (band weights, alphas, voxels), float64."""
        import torch
        total = np.zeros((len(self.gammas), len(self.grid), n_voxels))
        grid = torch.from_numpy(self.grid).to(self.device)
        with torch.no_grad():
            for fold, (train, val) in enumerate(self.splits):
                mean = self._centre(self.x[train])
                rows, val_rows = self.x[train] - mean, self.x[val] - mean
                gram = _primal_gram(rows)
                for g, gamma in enumerate(tqdm(self.gammas, desc=f"banded eigh: fold {fold + 1} of {len(self.splits)}",
                                               unit="band weight")):
                    d, d64 = self._scale(gamma)
                    model = ridge.Eigen(rows, _scaled(rows, gram, d64), scale=d)
                    projected = model.project(val_rows)
                    shrink = (1 / (model.values[None, :] + grid[:, None])).float()  # (alphas, components)
                    for start in range(0, n_voxels, batch):
                        index = np.arange(start, min(start + batch, n_voxels))
                        y = torch.from_numpy(read(index)).to(self.device)
                        offset = self._centre(y[train])
                        rhs = model.rhs(y[train] - offset)
                        y_val = y[val] - offset
                        for a in range(len(grid)):
                            error = ((y_val - projected @ (rhs * shrink[a, :, None])) ** 2).mean(0)
                            total[g, a, index] -= error.double().cpu().numpy()
                    del model, projected
        return total

    def select(self, total: np.ndarray):
        """Select each voxel's band weight and alpha (indices) by himalaya's rules, in its float32.

        himalaya averages the fold scores in float64 but keeps the mean in float32, where its
        tie-break slope (1e-10 log alpha) is below the resolution of ordinary scores: exact
        ties go to the first (smaller) alpha. Rounding as it does reproduces its choices
        where band weights differ by a few float32 steps (``tests/test_banded.py``).
        """
        n_voxels = total.shape[2]
        best = np.full(n_voxels, -np.inf, dtype=np.float32)
        gamma, alpha = np.zeros(n_voxels, dtype=int), np.zeros(n_voxels, dtype=int)
        slope = (np.log(self.grid.astype(np.float32)) * np.float32(1e-10))[:, None]
        epsilon = np.finfo(np.float32).eps  # a later band weight must beat the best so far by more
        for g in range(len(self.gammas)):
            mean = (total[g] / len(self.splits)).astype(np.float32) + slope
            chosen = mean.argmax(0)
            score = mean[chosen, np.arange(n_voxels)]
            better = score > best + epsilon
            best[better], gamma[better], alpha[better] = score[better], g, chosen[better]
        return gamma, alpha

    def refit(self, read, gamma: np.ndarray, alpha: np.ndarray, batch: int):
        """Fit on all training trials, one decomposition per chosen band weight; yield as ``fit``."""
        import torch
        with torch.no_grad():
            mean = self._centre(self.x)
            rows = self.x - mean
            gram = _primal_gram(rows)
            for g in tqdm(np.unique(gamma), desc="banded eigh: refit per chosen band weight", unit="band weight"):
                d, d64 = self._scale(self.gammas[g])
                model = ridge.Eigen(rows, _scaled(rows, gram, d64), scale=d)
                # each space's test rows in the eigenbasis of the scaled design (unscaled weights = d * weights)
                test = [(self.test[:, lo:hi] * d[lo:hi]) @ model.basis[lo:hi]
                        for lo, hi in zip(self.edges[:-1], self.edges[1:])]
                voxels = np.flatnonzero(gamma == g)
                for start in range(0, len(voxels), batch):
                    index = voxels[start:start + batch]
                    y = torch.from_numpy(read(index)).to(self.device)
                    penalty = torch.from_numpy(self.grid[alpha[index]]).to(self.device)
                    coef = model.rhs(y - self._centre(y)) / (model.values[:, None] + penalty[None, :]).float()
                    parts = torch.stack([t @ coef for t in test]).cpu().numpy()
                    # deltas = log(band weight / alpha): the penalty on each space is exp(-delta)
                    penalties = self.grid[alpha[index]][None, :] / self.gammas[g][:, None]
                    yield index, parts, penalties


def split_r2(observed: np.ndarray, parts: np.ndarray) -> np.ndarray:
    """Split the test R^2 into each space's share (himalaya's product measure).

    On responses and predictions centred over the test images (the intercept belongs to no space).
    """
    from himalaya.backend import get_backend
    from himalaya.scoring import r2_score_split

    y = observed.astype(np.float64) - observed.mean(0, dtype=np.float64)
    centred = parts.astype(np.float64) - parts.mean(1, keepdims=True, dtype=np.float64)
    # a voxel constant over the test images explains nothing
    spread = (y ** 2).sum(0) > 0
    out = np.zeros((parts.shape[0], y.shape[1]))
    if spread.any():
        b = get_backend()
        out[:, spread] = b.to_numpy(r2_score_split(y[:, spread], centred[:, :, spread], include_correlation=True))
    return out


def block_size(settings: encode.Settings, solver: str, n_trials: int, n_features: int, n_test: int,
               n_spaces: int = 2) -> int:
    """Plan the voxels per banded fit (himalaya) or per batch (eigh) from ``settings.memory_mb``.

    At most ``settings.voxel_block``. For himalaya: the budget less its hat matrices (alphas x one fold's
    validation trials x its training trials), then planned as ``encode.planned_block``; for eigh as ``eigh_block``.
    """
    block = settings.voxel_block or 2**31
    if not settings.memory_mb:
        return block
    if solver == "eigh":
        return min(block, eigh_block(settings, n_trials, n_features, n_test, n_spaces))
    fitting = settings.ridge
    fold = n_trials // fitting.folds
    hat_mb = len(fitting.alphas) * fold * (n_trials - fold) * 4 / 2**20
    if hat_mb >= settings.memory_mb:
        raise ArgumentError("memory_mb", f"{settings.memory_mb:g} MB does not hold banded ridge's hat matrices "
                            f"({hat_mb:.0f} MB for {len(fitting.alphas)} alphas and {n_trials} trials)")
    return min(block, planned_block(n_trials, n_features, n_test, settings.memory_mb - hat_mb))


def eigh_block(settings: encode.Settings, n_trials: int, n_features: int, n_test: int, n_spaces: int) -> int:
    """Voxels per batch of the eigh solver within ``settings.memory_mb`` (counted, not measured).

    Fixed: the design about three times (all trials, one fold's centred rows, a scaled copy)
    and the test rows in float32; the Gram matrix, its scaled copy and eigh's output in
    float64; one decomposition's vectors, its projected validation rows and the refit's
    projected test rows per space in float32; 100 MB of work buffers. Per voxel: its
    responses twice, X'y and its scaled copy, the eigenbasis coefficients, validation
    responses and predictions, the test parts per space (float32), and the scores (float64).
    Not counted: the table of every voxel's scores in host memory (band weights x alphas x
    8 bytes per voxel, 256 MB at NSD's 200,000 voxels).
    """
    folds, n_alphas = settings.ridge.folds, len(settings.ridge.alphas)
    rank = min(n_trials - n_trials // folds, n_features)
    val = -(-n_trials // folds)
    fixed = (4 * (3 * n_trials * n_features + n_test * n_features + n_features * rank + val * rank
                  + n_spaces * n_test * rank) + 8 * 3 * rank ** 2 + 100 * 2**20)
    per_voxel = 4 * (2 * n_trials + 2 * n_features + rank + 2 * val + n_spaces * n_test) + 8 * n_alphas
    free = settings.memory_mb * 2**20 - fixed
    if free < per_voxel:
        raise ArgumentError("memory_mb", f"{settings.memory_mb:g} MB does not hold banded ridge's decompositions "
                            f"({fixed / 2**20:.0f} MB for {n_trials} trials x {n_features} features) and one voxel")
    return int(free // per_voxel)
