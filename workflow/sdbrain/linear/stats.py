"""Statistics of encoding models: Pearson r per voxel, its one-sided p-value, BH-FDR.

p-values: under the null, the test-set predictions and responses are independent
Gaussian vectors of length N, for which t = r sqrt((N - 2) / (1 - r^2)) follows
Student's t with N - 2 degrees of freedom exactly; p is its upper tail (one-sided:
only positive correlations count as prediction). ``tests/test_stats.py`` checks this
form against a simulated null at N = 982.
"""
from __future__ import annotations

import numpy as np


def pearson_columns(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Correlate matching columns of (n, m) arrays: Pearson r per column; NaN where a column is constant.

    float16 input (stored features) is computed in float32: its sums of squares overflow float16.
    """
    a = a - a.mean(0, dtype=np.result_type(a.dtype, np.float32))
    b = b - b.mean(0, dtype=np.result_type(b.dtype, np.float32))
    denominator = np.sqrt((a * a).sum(0) * (b * b).sum(0))
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(denominator > 0, (a * b).sum(0) / denominator, np.nan)


def unit_rows(x: np.ndarray) -> np.ndarray:
    """Centre rows and scale them to unit norm (one float32 copy, no other temporary of its size).

    Dot products of such rows are Pearson r. A constant row becomes zeros (r = 0 with anything).
    """
    x = np.array(x, dtype=np.float32)
    x -= x.mean(1, keepdims=True)
    norms = np.sqrt(np.einsum("ij,ij->i", x, x))
    x /= norms[:, None] + 1e-12
    return x


def correlation_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """r[i, j] = Pearson r between row i of ``a`` and row j of ``b`` (one matrix product)."""
    return unit_rows(a) @ unit_rows(b).T


def correlation_pvalues(r: np.ndarray, n: int) -> np.ndarray:
    """One-sided p of each r against the null of two independent Gaussian vectors of length n."""
    r = np.clip(np.asarray(r, dtype=np.float64), -1 + 1e-12, 1 - 1e-12)
    t = r * np.sqrt((n - 2) / (1 - r ** 2))
    from scipy import stats  # here: the correlation helpers above serve pure-numpy modules (validity)
    p = stats.t.sf(t, n - 2)
    return np.where(np.isnan(r), 1.0, p)


def fdr_mask(p: np.ndarray, q: float = 0.05) -> np.ndarray:
    """Benjamini-Hochberg: True where the voxel is significant at false discovery rate q."""
    p = np.where(np.isnan(p), 1.0, p)
    from scipy import stats
    return stats.false_discovery_control(p, method="bh") <= q


def noise_ceiling(ncsnr: np.ndarray, repeats: np.ndarray) -> np.ndarray:
    """Fraction of the variance of averaged test responses that is signal (NSD's noise ceiling / 100).

    NC = ncsnr^2 / (ncsnr^2 + mean(1 / k)), with k the trials averaged for each test image
    (NSD's (A/3 + B/2 + C/1) / (A + B + C) for images seen 3, 2 and 1 times). It bounds the r^2
    of any model of the averaged responses.
    """
    ncsnr = np.asarray(ncsnr, dtype=np.float64) ** 2
    return ncsnr / (ncsnr + np.mean(1.0 / np.asarray(repeats, dtype=np.float64)))
