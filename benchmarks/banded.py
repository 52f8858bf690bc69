"""Cost of banded ridge joint models (encode.joint: banded) against the concatenated one.

Toy size, CPU: a synthetic subject of --trials training trials (each image seen twice),
two spaces of --features columns each, --voxels voxels, 100 test images; the
concatenated joint model (sdbrain.encode.fit_voxels, eigh solver, one alpha per voxel)
and the banded one (sdbrain.banded.fit_voxels, himalaya random search, n_iter band
weights x the alphas) in one run, with the settings of config/config.yaml.

NSD-size estimate: himalaya's random search forms, for every band weight, fold and alpha,
a hat matrix (validation x training trials) through all features once per voxel block and
multiplies it with every voxel's training responses; both are counted in flops. A fit at a
reduced size (--nsd-trials, --nsd-features per space, --nsd-voxels in one block) measures
how much of this CPU's float32 GEMM rate those flops run at, and NSD's count (24,980
trials, two spaces of nsd.yaml's pca_components, 200,000 voxels in the blocks that
nsd.yaml's memory_mb plans) is converted to time at that efficiency, here and at 50 TFLOP/s.

Usage: python benchmarks/banded.py [--trials 800] [--features 128] [--voxels 4000]
       [--nsd-trials 5000] [--nsd-features 320] [--nsd-voxels 2000] [--toy-only]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from sdbrain import banded, encode  # noqa: E402

NSD_VOXELS = 200_000


def problem(trials, features, voxels, test, seed=0):
    """Two spaces of ``features`` columns (one row per image, each image seen twice); voxels driven
    by the first, the second or both."""
    rng = np.random.default_rng(seed)
    images = max(trials // 2, 1)
    xs = [rng.normal(size=(images + test, features)).astype(np.float32) for _ in range(2)]
    rows = np.arange(trials) % images
    drive = (rng.random((2, voxels)) < 0.5) / np.sqrt(features)
    signal = sum(x @ (rng.normal(size=(features, voxels)) * d).astype(np.float32) for x, d in zip(xs, drive))
    y_train = (signal[:images][rows] + rng.normal(size=(trials, voxels))).astype(np.float32)
    y_test = (signal[images:] + rng.normal(size=(test, voxels)) / np.sqrt(3)).astype(np.float32)
    return [x[:images] for x in xs], rows, [x[images:] for x in xs], y_train, y_test


def params(config_file):
    """The encode settings of a config file, on the CPU torch backend."""
    encode_config = yaml.safe_load((ROOT / "config" / config_file).read_text())["encode"]
    return {**encode_config, "backend": "torch"}


def timed(fit, *args):
    start = time.perf_counter()
    result = fit(*args)
    return result, time.perf_counter() - start


def concatenated(train, rows, test, y_train, y_test, p):
    return encode.fit_voxels(np.hstack(train), rows, np.hstack(test), y_train, y_test, p)


def toy_row(args) -> str:
    p = params("config.yaml")
    data = problem(args.trials, args.features, args.voxels, 100)
    concat, t_concat = timed(concatenated, *data, p)
    band, t_band = timed(banded.fit_voxels, *data, p)
    return (f"| toy: {args.trials} trials, {args.features} + {args.features} features -> {args.voxels} voxels "
            f"(n_iter {p['banded']['n_iter']}, {len(p['alphas'])} alphas, {p['folds']}-fold) | "
            f"{t_concat:.2f} s ({args.voxels / t_concat:,.0f} voxels/s) | {t_band:.2f} s "
            f"({args.voxels / t_band:,.0f} voxels/s) | {t_band / t_concat:.1f}x | measured |")


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def gemm_rate(n: int = 2048) -> float:
    """This machine's float32 matrix-product rate in flop/s (best of three)."""
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = min(timed(torch.matmul, a, b)[1] for _ in range(3))
    return 2 * n ** 3 / best


def banded_flops(p: dict, trials: int, features: int, voxels: int, block: int) -> float:
    """Flops of a banded fit as himalaya's random search does it: for every band weight, fold and
    alpha, the hat matrix (validation x training trials) through all features, once per voxel
    block, and that hat matrix times every voxel's training responses."""
    fold = trials // p["folds"]
    per_hat = 2.0 * p["banded"]["n_iter"] * p["folds"] * len(p["alphas"]) * fold * (trials - fold)
    return -(-voxels // block) * per_hat * features + voxels * per_hat


def nsd_row(args) -> str:
    """Banded ridge measured at a reduced size (one block) against its flop count, and NSD's flop
    count at the efficiency measured there."""
    p = params("nsd.yaml")
    trials, features, voxels, n_test = args.nsd_trials, args.nsd_features, args.nsd_voxels, 982
    train, rows, test, y_train, y_test = problem(trials, features, voxels, n_test)
    seconds = timed(banded.fit_voxels, train, rows, test, y_train, y_test, {**p, "voxel_block": None})[1]
    rate = gemm_rate()
    efficiency = banded_flops(p, trials, 2 * features, voxels, voxels) / (seconds * rate)
    full_trials, full_features = 24980, 2 * p["pca_components"]
    block = banded.block_size(p, full_trials, full_features, n_test)
    flops = banded_flops(p, full_trials, full_features, NSD_VOXELS, block)
    return (f"| reduced: {trials} trials, {features} + {features} features -> {voxels} voxels (n_iter "
            f"{p['banded']['n_iter']}, {len(p['alphas'])} alphas, {p['folds']}-fold) | | {seconds:.0f} s | | measured; "
            f"{efficiency:.0%} of this CPU's float32 GEMM rate ({rate / 1e9:.0f} GFLOP/s) on the counted flops |\n"
            f"| NSD: {full_trials} trials, {full_features // 2} + {full_features // 2} features -> {NSD_VOXELS:,} "
            f"voxels (blocks of {block:,}) | | {flops / (rate * efficiency) / 3600:,.0f} h on this CPU; "
            f"{duration(flops / (50e12 * efficiency))} at 50 TFLOP/s (a GPU) | | {flops:.2e} flop counted, at the "
            "efficiency measured above |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=800)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--voxels", type=int, default=4000)
    parser.add_argument("--nsd-trials", type=int, default=5000)
    parser.add_argument("--nsd-features", type=int, default=320, help="per space")
    parser.add_argument("--nsd-voxels", type=int, default=2000)
    parser.add_argument("--toy-only", action="store_true", help="skip the NSD-size estimate")
    args = parser.parse_args()
    warm = problem(40, 4, 5, 10)  # torch and himalaya's first calls are not timed
    concatenated(*warm, params("config.yaml"))
    banded.fit_voxels(*warm, params("config.yaml"))
    print("| problem | concatenated (eigh, one alpha) | banded (himalaya, one alpha per space) | banded / "
          "concatenated | how |")
    print("|---|---|---|---|---|")
    print(toy_row(args))
    if not args.toy_only:
        print(nsd_row(args))


if __name__ == "__main__":
    main()
