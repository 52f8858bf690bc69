"""Encoding-model fit throughput (voxels per second): sdbrain.linear.encode.fit_voxels with each ridge solver.

A synthetic subject at 1/10 of NSD's size (2,498 training trials of 1,000 images, 640
features after PCA; NSD: 24,980 trials, 6,400 features), 20,000 voxels in blocks of
5,000, 8 alphas, 5-fold CV, scored on 98 test images. Both solvers fit the same data
in one run; their test r are compared so the speed is not bought with error.

Usage: python benchmarks/encoding.py [--voxels 20000] [--features 640] [--trials 2498]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from sdbrain.linear import encode, ridge  # noqa: E402


def problem(trials, images, features, voxels, test, seed=0):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(images, features)).astype(np.float32)
    rows = rng.integers(0, images, size=trials)
    weights = rng.normal(size=(features, voxels)).astype(np.float32) * (rng.random(voxels) < 0.3) / np.sqrt(features)
    y = x[rows] @ weights + rng.normal(size=(trials, voxels)).astype(np.float32)
    x_test = rng.normal(size=(test, features)).astype(np.float32)
    y_test = x_test @ weights + rng.normal(size=(test, voxels)).astype(np.float32) / np.sqrt(3)
    return x, rows, x_test, y.astype(np.float32), y_test.astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=2498)
    parser.add_argument("--features", type=int, default=640)
    parser.add_argument("--voxels", type=int, default=20000)
    args = parser.parse_args()
    data = problem(args.trials, 1000, args.features, args.voxels, 98)
    results = {}
    for solver in ("himalaya", "eigh"):
        fitting = ridge.Settings([1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7], folds=5, fit_intercept=True,
                                 backend="auto", solver=solver, n_targets_batch=5000)
        settings = encode.Settings(fitting, fdr_q=0.05, voxel_block=5000)
        start = time.perf_counter()
        results[solver] = encode.fit_voxels(*data, settings)
        results[solver].seconds = time.perf_counter() - start
    a, b = results["eigh"], results["himalaya"]
    print(f"| problem | himalaya ({b.backend}) | eigh ({a.backend}, default) | speed-up | max abs difference of test r |")
    print("|---|---|---|---|---|")
    print(f"| {args.trials} trials x {args.features} features -> {args.voxels} voxels, 8 alphas, 5-fold | "
          f"{b.seconds:.2f} s ({args.voxels / b.seconds:,.0f} voxels/s) | {a.seconds:.2f} s "
          f"({args.voxels / a.seconds:,.0f} voxels/s) | {b.seconds / a.seconds:.1f}x | "
          f"{np.nanmax(np.abs(a.r - b.r)):.1e} |")


if __name__ == "__main__":
    main()
