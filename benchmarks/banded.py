"""Cost of banded ridge joint models (encode.joint: banded) against the concatenated one.

Toy size, CPU: a synthetic subject of --trials training trials (each image seen twice),
two spaces of --features columns each, --voxels voxels, 100 test images; the
concatenated joint model (sdbrain.encode.fit_voxels, eigh solver, one alpha per voxel)
and the banded one (sdbrain.banded.fit_voxels, himalaya random search, n_iter band
weights x the alphas) in one run, with the settings of config/config.yaml.

NSD-size estimate: 24,980 training trials, two spaces of config/nsd.yaml's
pca_components each, 982 test images, 200,000 voxels. A fit's time is taken as a fixed
cost per voxel block (the folds' decompositions: for banded ridge one SVD per fold and
band weight) plus a cost per voxel; both are measured from fits of --nsd-voxels and
twice as many voxels, and extrapolated linearly to 200,000 voxels in the blocks that
nsd.yaml's memory_mb plans (sdbrain.encode.voxel_block, sdbrain.banded.block_size).
At full NSD width this takes hours on a CPU; --nsd-trials and --nsd-features shrink it.

Usage: python benchmarks/banded.py [--trials 800] [--features 128] [--voxels 4000]
       [--nsd-trials 24980] [--nsd-features 6400] [--nsd-voxels 200] [--toy-only]
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


def nsd_estimate(fit, block, data, p, voxels):
    """Seconds for NSD's voxels: fixed cost per block and cost per voxel from fits of ``voxels`` and
    2 x ``voxels`` voxels (one block each), extrapolated linearly."""
    train, rows, test, y_train, y_test = data
    one = timed(fit, train, rows, test, y_train[:, :voxels], y_test[:, :voxels], {**p, "voxel_block": None})[1]
    two = timed(fit, train, rows, test, y_train, y_test, {**p, "voxel_block": None})[1]
    per_voxel = max(two - one, 0.0) / voxels
    fixed = max(one - per_voxel * voxels, 0.0)
    return -(-NSD_VOXELS // block) * fixed + per_voxel * NSD_VOXELS


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.2f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


def gemm_rate(n: int = 2048) -> float:
    """This machine's float32 matrix-product rate in flop/s (best of three)."""
    import torch
    a, b = torch.randn(n, n), torch.randn(n, n)
    best = min(timed(torch.matmul, a, b)[1] for _ in range(3))
    return 2 * n ** 3 / best


def hat_flops(p: dict, trials: int, features: int) -> float:
    """Flops of banded ridge's fixed cost per voxel block: for every band weight, fold and alpha,
    the hat matrix (validation x training trials) through all features (himalaya's random search)."""
    fold = trials // p["folds"]
    return 2.0 * p["banded"]["n_iter"] * p["folds"] * len(p["alphas"]) * fold * (trials - fold) * features


def nsd_row(args) -> str:
    p = params("nsd.yaml")
    features = args.nsd_features or p["pca_components"]
    trials, n_test = args.nsd_trials, 982
    data = problem(trials, features, 2 * args.nsd_voxels, n_test)
    blocks = {"concatenated": encode.voxel_block(p, trials, 2 * features, n_test),
              "banded": banded.block_size(p, trials, 2 * features, n_test)}
    t_concat = nsd_estimate(concatenated, blocks["concatenated"], data, p, args.nsd_voxels)
    t_band = nsd_estimate(banded.fit_voxels, blocks["banded"], data, p, args.nsd_voxels)
    row = (f"| {trials} trials, {features} + {features} features -> {NSD_VOXELS:,} voxels "
           f"(n_iter {p['banded']['n_iter']}, {len(p['alphas'])} alphas, {p['folds']}-fold; blocks of "
           f"{blocks['concatenated']:,} / {blocks['banded']:,}) | {duration(t_concat)} | {duration(t_band)} | "
           f"{t_band / t_concat:.1f}x | extrapolated from {args.nsd_voxels} and {2 * args.nsd_voxels} voxels |")
    # NSD's full size: the hat matrices dominate banded ridge's cost; counted, at this machine's GEMM rate
    full_trials, full_features = 24980, 2 * p["pca_components"]
    block = banded.block_size(p, full_trials, full_features, n_test)
    flops = hat_flops(p, full_trials, full_features) * -(-NSD_VOXELS // block)
    rate = gemm_rate()
    return row + (f"\n| NSD: {full_trials} trials, {full_features // 2} + {full_features // 2} features -> "
                  f"{NSD_VOXELS:,} voxels (blocks of {block:,}) | | {flops / rate / 3600:,.0f} h on this CPU "
                  f"({rate / 1e9:.0f} GFLOP/s float32); at 50 TFLOP/s (a GPU) {duration(flops / 50e12)} | | "
                  f"hat matrices counted: {flops:.2e} flop |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=800)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--voxels", type=int, default=4000)
    parser.add_argument("--nsd-trials", type=int, default=24980)
    parser.add_argument("--nsd-features", type=int, default=None, help="per space (default: nsd.yaml's pca_components)")
    parser.add_argument("--nsd-voxels", type=int, default=200)
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
