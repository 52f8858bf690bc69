"""Checks that tell reconstruction from retrieval.

Novelty against the training set, C+1-way identification, N-way identification on fixed candidate
pools, retrieval ranks, output-dimension collapse, a retrieval baseline, and paired bootstrap
intervals and permutation tests.

After Shirakawa et al. (2024, "Spurious reconstruction from brain activity"): a decoder that
only retrieves what it saw in training can still score well on two-way identification among
test images. Each check here compares decoded features with true ones (z, c, or a network's
features): similarity is Pearson r between rows, as in ``stats.correlation_matrix``.

Functions that compare test items with the training set work through the training rows in
blocks sized by ``memory_mb`` (the training array may be a memory map: only a block is read at
a time), with one matrix product per block; ``memory_mb`` bounds the arrays they make (the
normalised test vectors and one block), not their inputs.

One tie rule for every identification here (two-way, N-way, retrieval ranks, C+1-way): a
candidate whose r is within ``TIE`` of the truth's ties with it, and a tie counts against the
truth. Products are float32: the r of one pair differs from block size to block size, and
between the truth's product and a candidate's, in its last bits (about 1e-8), so a smaller
margin is not a win. Pure numpy (pandas only in ``summary_rows``).
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sdbrain.errors import InputError
from sdbrain.linear.stats import unit_rows

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas as pd

TIE = 1e-6  # |r_a - r_b| <= TIE is a tie (float32 products of one pair differ by ~1e-8 between block sizes)
_MB = 2 ** 20
_DRAWS = 256  # bootstrap and permutation draws made at once; fixed, so results depend only on the seed


# --- checks of arguments ---------------------------------------------------------------

def _matrix(x, name: str) -> np.ndarray:
    x = np.asarray(x)
    if x.ndim != 2 or 0 in x.shape:
        raise InputError(f"argument '{name}' must be a non-empty 2-D array (items x dims), not shape {x.shape}")
    return x


def _same_dims(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape[1] != b.shape[1]:
        raise InputError(f"arguments {names} must have the same number of dims, not {a.shape[1]} and {b.shape[1]}")


def _same_shape(a: np.ndarray, b: np.ndarray, names: str) -> None:
    if a.shape != b.shape:
        raise InputError(f"arguments {names} must have the same shape, not {a.shape} and {b.shape}")


def _square(similarity) -> np.ndarray:
    s = np.asarray(similarity, dtype=np.float64)
    if s.ndim != 2 or s.shape[0] != s.shape[1] or s.shape[0] < 2:
        raise InputError(f"argument 'similarity' must be a square (test x test) matrix of at least 2 items, "
                         f"not shape {s.shape}")
    if not np.isfinite(s).all():
        raise InputError("argument 'similarity' holds NaN or infinite values")
    return s


def _positive(value, name: str) -> int:
    if int(value) != value or value < 1:
        raise InputError(f"argument '{name}' must be a positive integer, not {value!r}")
    return int(value)


# --- similarity against the training set, in blocks ---------------------------------------

def block_rows(n_test: int, dims: int, memory_mb: float, held_bytes: int = 0) -> int:
    """Training rows per block so that ``held_bytes`` plus one block stays within ``memory_mb``.

    A block costs, per training row, its normalised copy (4 dims bytes) and about three
    (n_test,) float32 columns (its similarities, their running sum, a comparison). At least
    one row, whatever the budget.
    """
    if not memory_mb > 0:
        raise InputError(f"argument 'memory_mb' must be positive, not {memory_mb!r}")
    free = memory_mb * _MB - held_bytes
    return max(1, int(free // (4 * (dims + 3 * n_test))))


def _blocks(n_train: int, rows: int):
    for start in range(0, n_train, rows):
        yield slice(start, min(start + rows, n_train))


def _spaces(tests, trains, test_name: str, train_name: str) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Check and return lists of (test, train) arrays: one per space, the same items in every space."""
    if len(tests) != len(trains) or not tests:
        raise InputError(f"arguments '{test_name}' and '{train_name}' must list the same spaces, "
                         f"not {len(tests)} and {len(trains)}")
    tests = [_matrix(t, f"{test_name}[{k}]") for k, t in enumerate(tests)]
    trains = [_matrix(t, f"{train_name}[{k}]") for k, t in enumerate(trains)]
    for k, (t, r) in enumerate(zip(tests, trains)):
        _same_dims(t, r, f"'{test_name}[{k}]' and '{train_name}[{k}]'")
        if t.shape[0] != tests[0].shape[0] or r.shape[0] != trains[0].shape[0]:
            raise InputError(f"arguments '{test_name}' and '{train_name}': space {k} has {t.shape[0]} test and "
                             f"{r.shape[0]} training items, space 0 {tests[0].shape[0]} and {trains[0].shape[0]}")
    return tests, trains


def _nearest(tests: list[np.ndarray], trains: list[np.ndarray], memory_mb: float) -> tuple[np.ndarray, np.ndarray]:
    """Index of the training item with the highest r averaged over spaces, and that mean r."""
    units = [unit_rows(t) for t in tests]  # normalised once, held throughout
    n_test, n_train = units[0].shape[0], trains[0].shape[0]
    rows = block_rows(n_test, max(t.shape[1] for t in trains), memory_mb, sum(u.nbytes for u in units))
    best = np.full(n_test, -np.inf, dtype=np.float32)
    index = np.zeros(n_test, dtype=np.int64)
    for block in _blocks(n_train, rows):
        r = units[0] @ unit_rows(trains[0][block]).T
        for u, t in zip(units[1:], trains[1:]):
            r += u @ unit_rows(t[block]).T
        r /= len(units)
        top = r.argmax(1)
        top_r = r[np.arange(n_test), top]
        better = top_r > best  # strictly: an earlier block keeps a tie (the lowest index wins)
        best[better], index[better] = top_r[better], top[better] + block.start
    return index, best


def nearest_training(test: np.ndarray, train: np.ndarray, memory_mb: float) -> tuple[np.ndarray, np.ndarray]:
    """Per test vector, the index of the most similar training vector (Pearson r) and that r.

    Novelty (Shirakawa et al.) is 1 - r: how far a test image is from anything seen in
    training. An exact tie goes to the lowest index.
    """
    test, train = _matrix(test, "test"), _matrix(train, "train")
    _same_dims(test, train, "'test' and 'train'")
    return _nearest([test], [train], memory_mb)


def novelty_tertiles(novelty: np.ndarray) -> np.ndarray:
    """Label items "familiar", "middle", "novel" by rank of novelty (ties by index), in near-equal thirds.

    The thirds' sizes differ by at most one; the lower thirds get the extra items.
    """
    novelty = np.asarray(novelty)
    if novelty.ndim != 1 or novelty.size < 3:
        raise InputError(f"argument 'novelty' must be a 1-D array of at least 3 values, not shape {novelty.shape}")
    labels = np.empty(novelty.size, dtype=object)
    for label, members in zip(["familiar", "middle", "novel"], np.array_split(np.argsort(novelty, kind="stable"), 3)):
        labels[members] = label
    return labels.astype(str)


def novel_identification(decoded: np.ndarray, truth: np.ndarray, train: np.ndarray,
                         memory_mb: float) -> tuple[np.ndarray, np.ndarray]:
    """Rank each truth against all C training vectors by r with its decoded item (Shirakawa's C+1-way).

    Per test item i, the candidates are truth[i] and all C training vectors, ranked by r with decoded[i].

    Returns rank (1 = the truth is the most similar; a training candidate tied with the truth,
    within ``TIE``, ranks above it) and accuracy (the share of training candidates the truth
    beats by more than ``TIE``; chance 0.5). A decoder that retrieves training items loses to them here even when
    it wins two-way identification among test images.
    """
    decoded, truth, train = _matrix(decoded, "decoded"), _matrix(truth, "truth"), _matrix(train, "train")
    _same_shape(decoded, truth, "'decoded' and 'truth'")
    _same_dims(decoded, train, "'decoded' and 'train'")
    d = unit_rows(decoded)
    own = np.einsum("ij,ij->i", d, unit_rows(truth))
    rows = block_rows(d.shape[0], train.shape[1], memory_mb, 2 * d.nbytes)
    beaten = np.zeros(d.shape[0], dtype=np.int64)
    for block in _blocks(train.shape[0], rows):
        beaten += (d @ unit_rows(train[block]).T >= (own - TIE)[:, None]).sum(1)
    return 1 + beaten, (train.shape[0] - beaten) / train.shape[0]


def retrieval_baseline(decoded_spaces: list[np.ndarray], train_spaces: list[np.ndarray],
                       memory_mb: float) -> np.ndarray:
    """Return, per test item, the training item whose true features are nearest the decoded ones.

    Nearness is r averaged over the spaces (e.g. [z, c]), listed in the same order in both arguments.

    Scoring the retrieved items' features (``train_spaces[k][index]``) as if they were the
    reconstruction gives the level that pure retrieval reaches on any metric.
    """
    tests, trains = _spaces(list(decoded_spaces), list(train_spaces), "decoded_spaces", "train_spaces")
    return _nearest(tests, trains, memory_mb)[0]


# --- identification among test items -------------------------------------------------------

def _pools_of(i: int, n_test: int, n: int, n_pools: int, seed: int) -> np.ndarray:
    """(n_pools, n - 1) sorted distractors of item i, from a generator seeded by (seed, n_test, n, i) alone."""
    rng = np.random.default_rng([seed, n_test, n, i])
    keys = rng.random((n_pools, n_test - 1))
    chosen = np.sort(np.argpartition(keys, n - 2, axis=1)[:, :n - 1], axis=1)  # n - 1 random others, no repeats
    return chosen + (chosen >= i)  # skip i itself


def _check_pools(n_test: int, n: int, n_pools: int, seed: int) -> None:
    if int(n) != n or not 2 <= n <= n_test:
        raise InputError(f"argument 'n' must be an integer from 2 to the number of test items ({n_test}), not {n!r}")
    _positive(n_pools, "n_pools")
    if int(seed) != seed or seed < 0:
        raise InputError(f"argument 'seed' must be a non-negative integer, not {seed!r}")


def candidate_pools(n_test: int, n: int, n_pools: int, seed: int) -> np.ndarray:
    """Draw (n_test, n_pools, n - 1) int32 distractor indices for N-way identification.

    Row i is drawn from j != i without repeats. They depend only on (n_test, n, n_pools, seed, i), never
    on any method's values, so every method is scored against the same pools.
    """
    _check_pools(n_test, n, n_pools, seed)
    return np.stack([_pools_of(i, n_test, n, n_pools, seed) for i in range(n_test)]).astype(np.int32)


def n_way_identification(similarity: np.ndarray, n: int, n_pools: int, seed: int) -> np.ndarray:
    """Score N-way identification: per item i, the share of pools where similarity[i, i] beats all distractors.

    It must beat each of the n - 1 distractors similarity[i, j] by more than ``TIE`` (a tie fails); chance 1 / n.

    ``similarity[i, j]`` is r between decoded (or reconstructed) item i and true item j. The pools
    are ``candidate_pools(n_test, n, n_pools, seed)``; for n = 2 the exact share over all j != i
    is used instead (``n_pools`` and ``seed`` are then unused).
    """
    s = _square(similarity)
    n_test = s.shape[0]
    _check_pools(n_test, n, n_pools, seed)
    own = np.diag(s)
    if n == 2:  # (the truth does not beat itself: the diagonal counts for nothing)
        return ((own[:, None] > s + TIE).sum(1)) / (n_test - 1)
    # pools drawn one item at a time: all of them at once would take n_test * n_pools * (n - 1) values
    return np.array([(own[i] > s[i, _pools_of(i, n_test, n, n_pools, seed)] + TIE).all(1).mean()
                     for i in range(n_test)])


def retrieval_ranks(similarity: np.ndarray) -> np.ndarray:
    """Rank, per decoded item i, true item i among all test items by similarity[i, :].

    1 is best; another item tied with the truth (within ``TIE``) ranks above it.
    """
    s = _square(similarity)
    return (s >= np.diag(s)[:, None] - TIE).sum(1)  # counts i itself, hence 1-based


def retrieval_hits(ranks: np.ndarray, ks=(1, 5)) -> dict[str, np.ndarray]:
    """Per item, whether its truth ranks within the top k (1.0 or 0.0), for each k: keys "top1", "top5", ..."""
    ranks = np.asarray(ranks)
    return {f"top{k}": (ranks <= k).astype(float) for k in ks}


# --- output-dimension collapse ----------------------------------------------------------------

def training_components(train_targets: np.ndarray, k: int, seed: int, memory_mb: float = 2048,
                        n_iter: int = 7, oversample: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """Find the top-k principal axes of the centred training targets, and their mean.

    Returns the axes as (k, dims) orthonormal rows and the (dims,) mean.

    Randomized subspace iteration (Halko, Martinsson & Tropp 2011) on the covariance, with
    Rayleigh-Ritz at the end: each of its n_iter + 1 passes reads the rows in blocks, centred
    block by block, so neither a centred copy (6 GB at 27,000 x 59,136 float32) nor a Gram
    matrix is made; the cost grows linearly in items and dims. The Gram/eigh route would need
    a 27,000^2 eigendecomposition, hours on a CPU. k + oversample starting vectors from ``seed``.
    """
    x = _matrix(train_targets, "train_targets")
    k = _positive(k, "k")
    n, d = x.shape
    if k > min(n, d):
        raise InputError(f"argument 'k' must be at most the training items and dims ({min(n, d)}), not {k}")
    mean = x.mean(0, dtype=np.float64)
    mean32 = mean.astype(np.float32)
    width = min(k + oversample, n, d)
    rows = block_rows(width, d, memory_mb, 8 * d * width)
    q = np.linalg.qr(np.random.default_rng(seed).standard_normal((d, width)))[0].astype(np.float32)

    def covariance_times(q):
        """(X - mean)^T (X - mean) q, and its Ritz matrix q^T (X - mean)^T (X - mean) q."""
        out, ritz = np.zeros((d, width)), np.zeros((width, width))
        for block in _blocks(n, rows):
            centred = x[block].astype(np.float32)
            centred -= mean32
            t = centred @ q
            out += centred.T @ t
            ritz += t.T.astype(np.float64) @ t
        return out, ritz

    for _ in range(n_iter):
        q = np.linalg.qr(covariance_times(q)[0])[0].astype(np.float32)
    values, vectors = np.linalg.eigh(covariance_times(q)[1])
    top = vectors[:, np.argsort(values)[::-1][:k]]
    components = (q.astype(np.float64) @ top).T
    return components / np.linalg.norm(components, axis=1, keepdims=True), mean


def variance_in_span(vectors: np.ndarray, components: np.ndarray, mean: np.ndarray) -> float:
    """Return the share of the vectors' variance about the TRAINING mean in the span of the components.

    The components are orthonormal. The share is near 1 when decoded outputs collapse onto a few
    training axes.
    """
    v, c = _matrix(vectors, "vectors"), _matrix(components, "components")
    _same_dims(v, c, "'vectors' and 'components'")
    mean = np.asarray(mean, dtype=np.float64)
    if mean.shape != (v.shape[1],):
        raise InputError(f"argument 'mean' must have shape ({v.shape[1]},), not {mean.shape}")
    centred = v.astype(np.float64) - mean
    total = np.einsum("ij,ij->", centred, centred)
    if total == 0:
        raise InputError("argument 'vectors' equals the training mean everywhere: no variance to share out")
    return float(((centred @ c.T.astype(np.float64)) ** 2).sum() / total)


def participation_ratio(vectors: np.ndarray) -> float:
    """Compute the effective number of dimensions the vectors vary in across items.

    It is (sum lambda)^2 / sum lambda^2 over the eigenvalues lambda of the covariance of the vectors
    across items: 1 for rank-one data, d for isotropic data in d dims.

    The non-zero eigenvalues are those of the items x items Gram matrix G of the centred vectors,
    so the ratio is trace(G)^2 / ||G||_F^2: no eigendecomposition, cheap for ~1000 items.
    """
    v = _matrix(vectors, "vectors")
    mean = v.mean(0, dtype=np.float64)
    gram = np.zeros((v.shape[0], v.shape[0]))
    for start in range(0, v.shape[1], 4096):  # columns in slices: no float64 copy of all the vectors
        centred = v[:, start:start + 4096].astype(np.float64) - mean[start:start + 4096]
        gram += centred @ centred.T
    squares = (gram ** 2).sum()
    if squares == 0:
        raise InputError("argument 'vectors' does not vary across items")
    return float(np.trace(gram) ** 2 / squares)


# --- statistics over test images --------------------------------------------------------------

def _per_image(values, name: str) -> np.ndarray:
    v = np.asarray(values, dtype=np.float64)
    if v.ndim not in (1, 2) or v.shape[-1] < 2:
        raise InputError(f"argument '{name}' must be (n_images,) or (n_methods, n_images) with at least 2 images, "
                         f"not shape {v.shape}")
    if not np.isfinite(v).all():
        raise InputError(f"argument '{name}' holds NaN or infinite values")
    return v


def bootstrap_ci(values: np.ndarray, n_boot: int, seed: int, level: float = 0.95) -> tuple[float, float] | np.ndarray:
    """Percentile interval of the mean over test images, from ``n_boot`` resamples of the images.

    ``values`` is (n_images,), giving (low, high), or (n_methods, n_images), giving an
    (n_methods, 2) array: every method is resampled with the same image indices (paired), so
    intervals of methods scored on the same images are comparable.
    """
    v = _per_image(values, "values")
    n_boot = _positive(n_boot, "n_boot")
    if not 0 < level < 1:
        raise InputError(f"argument 'level' must be between 0 and 1, not {level!r}")
    rows = v.reshape(-1, v.shape[-1])
    rng = np.random.default_rng(seed)
    means = np.empty((rows.shape[0], n_boot))
    for start in range(0, n_boot, _DRAWS):
        index = rng.integers(0, rows.shape[1], size=(min(_DRAWS, n_boot - start), rows.shape[1]))
        means[:, start:start + len(index)] = rows[:, index].mean(-1)
    tail = (1 - level) / 2
    intervals = np.quantile(means, [tail, 1 - tail], axis=1).T
    return (float(intervals[0, 0]), float(intervals[0, 1])) if v.ndim == 1 else intervals


def paired_permutation(a: np.ndarray, b: np.ndarray, n_perm: int, seed: int) -> float:
    """Two-sided sign-flip test of mean(a - b) = 0 over paired per-image values.

    p = (1 + #{|mean of sign-flipped differences| >= |observed mean|}) / (1 + n_perm), so
    identical a and b give p = 1 and the smallest p is 1 / (1 + n_perm).
    """
    a, b = _per_image(a, "a"), _per_image(b, "b")
    if a.ndim != 1:
        raise InputError(f"argument 'a' must be 1-D (n_images,), not shape {a.shape}")
    _same_shape(a, b, "'a' and 'b'")
    n_perm = _positive(n_perm, "n_perm")
    difference = a - b
    observed = abs(difference.mean())
    rng = np.random.default_rng(seed)
    extreme = 0
    for start in range(0, n_perm, _DRAWS):
        signs = rng.integers(0, 2, size=(min(_DRAWS, n_perm - start), difference.size), dtype=np.int8) * 2 - 1
        # relative slack: a flip that leaves the mean unchanged must count, whatever the rounding
        extreme += int((np.abs(signs @ difference / difference.size) >= observed * (1 - 1e-9)).sum())
    return (1 + extreme) / (1 + n_perm)


def summary_rows(per_image: dict[str, np.ndarray], n_boot: int, seed: int, level: float = 0.95) -> pd.DataFrame:
    """One row per metric: metric, mean, ci_low, ci_high (bootstrap over images), n_images.

    Each metric is resampled from the same seed, so metrics over the same images share indices.
    """
    import pandas as pd
    rows = []
    for metric, values in per_image.items():
        values = _per_image(values, f"per_image['{metric}']")
        if values.ndim != 1:
            raise InputError(f"argument 'per_image': metric '{metric}' must be 1-D (n_images,), "
                             f"not shape {values.shape}")
        low, high = bootstrap_ci(values, n_boot, seed, level)
        rows.append({"metric": metric, "mean": float(values.mean()), "ci_low": low, "ci_high": high,
                     "n_images": values.size})
    return pd.DataFrame(rows, columns=["metric", "mean", "ci_low", "ci_high", "n_images"])
