"""p-values of correlations and Benjamini-Hochberg FDR."""
import numpy as np
import pytest
from scipy import stats as sps

from sdbrain.linear import stats


def test_null_pvalues_match_a_simulated_null():
    n, draws = 982, 20000
    rng = np.random.default_rng(0)
    a = rng.normal(size=(n, draws))
    b = rng.normal(size=(n, draws))
    r = stats.pearson_columns(a, b)
    p = stats.correlation_pvalues(r, n)
    # under the null, p is uniform: Kolmogorov-Smirnov does not reject, and quantiles agree
    assert sps.kstest(p, "uniform").pvalue > 0.01
    assert np.allclose(np.quantile(p, [0.01, 0.05, 0.5, 0.95]), [0.01, 0.05, 0.5, 0.95], atol=0.01)
    # and the r that gives p = 0.05 matches the simulated 95th percentile of r
    r95 = np.quantile(r, 0.95)
    assert abs(stats.correlation_pvalues(np.array([r95]), n)[0] - 0.05) < 0.005


def test_strong_correlation_is_significant_and_negative_is_not():
    p = stats.correlation_pvalues(np.array([0.3, -0.3, 0.0, np.nan]), 982)
    assert p[0] < 1e-15 and p[1] > 0.999 and abs(p[2] - 0.5) < 1e-9 and p[3] == 1.0


def test_benjamini_hochberg_on_a_known_vector():
    # sorted p: thresholds q k / m = 0.01, 0.02, 0.03, 0.04, 0.05 for m = 5, q = 0.05
    p = np.array([0.001, 0.03, 0.015, 0.2, 0.041])
    # largest k with p_(k) <= q k / m: p_(4) = 0.041 > 0.04, p_(3) = 0.03 <= 0.03 -> the three smallest
    assert stats.fdr_mask(p, 0.05).tolist() == [True, True, True, False, False]
    assert stats.fdr_mask(np.array([0.02, np.nan]), 0.05).tolist() == [True, False]


def test_noise_ceiling_matches_simulated_averages():
    """Signal of sd ncsnr plus unit noise, averaged over 1-3 repeats: r^2 of the average with the signal is NC."""
    rng = np.random.default_rng(3)
    ncsnr = np.array([0.2, 0.5, 1.0, 2.0])
    repeats = rng.integers(1, 4, size=50000)
    signal = rng.normal(size=(50000, 4)) * ncsnr
    noise = rng.normal(size=(50000, 4)) / np.sqrt(repeats)[:, None]
    r = stats.pearson_columns(signal, signal + noise)
    assert np.allclose(r ** 2, stats.noise_ceiling(ncsnr, repeats), atol=0.01)
    # NSD's formula for images seen 3, 2 and 1 times: A = 2, B = 1, C = 1
    assert stats.noise_ceiling(np.array([1.0]), np.array([3, 3, 2, 1]))[0] == pytest.approx(
        1 / (1 + (2 / 3 + 1 / 2 + 1) / 4))


def test_correlation_matrix_is_pearson_r_between_rows():
    rng = np.random.default_rng(5)
    a, b = rng.normal(size=(4, 30)), rng.normal(size=(6, 30)) + 3
    b[5] = 2.0  # a constant row: r = 0 with anything
    r = stats.correlation_matrix(a, b)
    assert r.shape == (4, 6) and r.dtype == np.float32
    assert np.allclose(r[:, :5], np.corrcoef(a, b[:5])[:4, 4:], atol=1e-6) and (r[:, 5] == 0).all()
    units = stats.unit_rows(b)
    assert np.allclose(np.linalg.norm(units[:5], axis=1), 1, atol=1e-6) and np.allclose(units.mean(1), 0, atol=1e-6)
