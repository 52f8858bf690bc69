"""Decoder fit time: the workflow's ridge (sdbrain.linear.ridge) against the reference approach.

Reference: himalaya's numpy backend in float64 with a scikit-learn StandardScaler
pipeline (what a direct port of the reference code does). Ours: sdbrain.linear.ridge.fit with
its default solver ``eigh`` (torch float32, CPU here) and, for comparison, with
``solver="himalaya"`` (himalaya's torch backend). Same data, same alpha grid, same
5-fold CV; predictions are compared so the speed is not bought with error. The eigh
solver's matrix-product work is counted and set against the machine's measured float32
GEMM rate, to say how close it runs to the hardware limit.

Usage: python benchmarks/decoder.py [--sizes 2498x700x6400 8000x6000x6400]
(trials x voxels x targets, one row each; default: NSD's 24,980 trials x ~7,000 early voxels
scaled by 1/10, and a design as wide as NSD's (6,000 inputs) at 8,000 trials, both -> z's
6,400 targets). The eigh solver decomposes in float64 (see sdbrain.linear.ridge); its matrix-product
work counted here is the float32 part.
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

ALPHAS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4]


def problem(n, p, t, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(n + 200, p)).astype(np.float32)
    y = (x @ rng.normal(scale=1 / np.sqrt(p), size=(p, t)) + rng.normal(size=(n + 200, t))).astype(np.float32)
    return x[:n], y[:n], x[n:]


def reference(x, y, x_test):
    from himalaya.backend import set_backend
    from himalaya.ridge import RidgeCV
    from sklearn.model_selection import KFold
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    set_backend("numpy")
    model = make_pipeline(StandardScaler(), RidgeCV(alphas=np.array(ALPHAS), cv=KFold(5), fit_intercept=True,
                                                    solver_params={"n_targets_batch": 10000}))
    start = time.perf_counter()
    model.fit(x.astype(np.float64), y.astype(np.float64))
    seconds = time.perf_counter() - start
    return seconds, model.predict(x_test.astype(np.float64))


def ours(x, y, x_test, backend, solver):
    from sdbrain.linear import ridge
    start = time.perf_counter()
    settings = ridge.Settings(ALPHAS, folds=5, fit_intercept=True, backend=backend, solver=solver,
                              n_targets_batch=10000)
    model = ridge.fit(x, y, settings)
    seconds = time.perf_counter() - start
    return seconds, model.predict(x_test), model.backend


def eigh_gflop(n, p, t, folds=5, n_alphas=None):
    """Matrix-product work of the eigh solver (primal form): per fold the Gram matrix, the projection of the
    validation rows, X'Y and its rotation, one product per alpha; then the same for the refit."""
    n_alphas = len(ALPHAS) if n_alphas is None else n_alphas
    n_val, n_train = n / folds, n - n / folds
    fold = 2 * n_train * p * p + 2 * n_val * p * p + 2 * n_train * p * t + 2 * p * p * t + n_alphas * 2 * n_val * p * t
    refit = 2 * n * p * p + 2 * n * p * t + 4 * p * p * t
    return (folds * fold + refit) / 1e9


def gemm_rate(n=2048):
    a = np.random.default_rng(0).normal(size=(n, n)).astype(np.float32)
    a @ a
    start = time.perf_counter()
    for _ in range(3):
        a @ a
    return 3 * 2 * n ** 3 / (time.perf_counter() - start) / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", nargs="+", default=["2498x700x6400", "8000x6000x6400"])
    parser.add_argument("--backend", default="auto")
    args = parser.parse_args()
    rate = gemm_rate()
    print("| problem (trials x voxels -> targets) | reference: himalaya numpy float64 + StandardScaler | "
          "sdbrain.linear.ridge himalaya | sdbrain.linear.ridge eigh (default) | speed-up of the default | max relative "
          "difference of predictions (himalaya, eigh) | eigh solver's float32 GEMM work rate vs the machine's "
          "float32 GEMM |")
    print("|---|---|---|---|---|---|---|")
    for size in args.sizes:
        n, p, t = (int(v) for v in size.split("x"))
        x, y, x_test = problem(n, p, t)
        t_ref, p_ref = reference(x, y, x_test)
        t_him, p_him, him = ours(x, y, x_test, args.backend, "himalaya")
        t_eig, p_eig, eig = ours(x, y, x_test, args.backend, "eigh")
        achieved = eigh_gflop(n, p, t) / t_eig

        def error(pred, ref=p_ref):
            return np.abs(pred - ref).max() / np.abs(ref).max()

        print(f"| {n} x {p} -> {t}, {len(ALPHAS)} alphas, 5-fold | {t_ref:.2f} s | {t_him:.2f} s ({him}) | "
              f"{t_eig:.2f} s ({eig}) | {t_ref / t_eig:.1f}x | {error(p_him):.1e}, {error(p_eig):.1e} | "
              f"{achieved:.0f} of {rate:.0f} GFLOP/s ({100 * achieved / rate:.0f}%) |", flush=True)


if __name__ == "__main__":
    main()
