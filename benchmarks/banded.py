"""Cost of banded ridge joint models (encode.joint: banded) against the concatenated one.

Toy size, CPU: a synthetic subject of --trials training trials (each image seen twice),
two spaces of --features columns each, --voxels voxels, 100 test images; the
concatenated joint model (sdbrain.linear.encode.fit_voxels, eigh solver, one alpha per voxel)
and the banded one (sdbrain.linear.banded.fit_voxels, random search: n_iter band weights x the
alphas) with each banded solver (encode.banded.solver: himalaya, eigh), in one run, with
the settings of config/config.yaml.

Reduced size, CPU: both banded solvers at --nsd-trials trials, --nsd-features per space,
--nsd-voxels voxels in one block, with config/nsd.yaml's settings, where the
decompositions of the design matter.

NSD-size estimate (24,980 trials, two spaces of nsd.yaml's pca_components, 200,000
voxels), from the H100 figures measured on 2026-11-28 (torch.linalg.svd of 19,984 x
12,800 float32: 29.0 s; Gram matrix + eigh of 12,800 x 12,800 in float64: 2.15 s):
himalaya takes a full SVD of the scaled design for every band weight and fold, and one
on all trials per band weight for the refit, n_iter x (folds + 1) SVDs, again for every
voxel block that nsd.yaml's memory_mb plans; the eigh solver takes n_iter x (folds + 1)
Gram eigendecompositions at most, once for all voxels, plus per voxel the products
through them (counted in flops and timed at 50 TFLOP/s, an assumed GPU rate).

Usage: python benchmarks/banded.py [--trials 800] [--features 128] [--voxels 4000]
       [--nsd-trials 3000] [--nsd-features 400] [--nsd-voxels 1000] [--toy-only]
"""
from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from sdbrain.linear import banded, encode, ridge  # noqa: E402

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


@dataclass(frozen=True)
class Config:
    """A config file's encode section as the fits take it."""

    settings: encode.Settings  # ridge (alphas, folds, backend), the FDR level and the voxel blocks
    band: banded.Settings      # the search of band weights (encode.banded)
    seed: int
    pca_components: int


def params(config_file, **changes) -> Config:
    """The encode settings of a config file (through their ``Settings.pick``), on the CPU torch backend, with
    ``changes`` to the section."""
    section = yaml.safe_load((ROOT / "config" / config_file).read_text())["encode"]
    section = {**section, "backend": "torch", **changes}
    return Config(encode.Settings.pick(section), banded.Settings.pick(section["banded"]), section["seed"],
                  section["pca_components"])


def timed(fit, *args):
    start = time.perf_counter()
    result = fit(*args)
    return result, time.perf_counter() - start


def concatenated(train, rows, test, y_train, y_test, p: Config):
    return encode.fit_voxels(np.hstack(train), rows, np.hstack(test), y_train, y_test, p.settings)


def fit_banded(data, p: Config, solver: str):
    """banded.fit_voxels with the settings of ``p`` and encode.banded.solver ``solver``."""
    return banded.fit_voxels(*data, p.settings, replace(p.band, solver=solver), p.seed)


def toy_row(args) -> str:
    p = params("config.yaml")
    data = problem(args.trials, args.features, args.voxels, 100)
    t_concat = timed(concatenated, *data, p)[1]
    t_himalaya = timed(fit_banded, data, p, "himalaya")[1]
    t_eigh = timed(fit_banded, data, p, "eigh")[1]
    return (f"| toy: {args.trials} trials, {args.features} + {args.features} features -> {args.voxels} voxels "
            f"(n_iter {p.band.n_iter}, {len(p.settings.ridge.alphas)} alphas, {p.settings.ridge.folds}-fold) | "
            f"{rate(t_concat, args.voxels)} | {rate(t_himalaya, args.voxels)} | {rate(t_eigh, args.voxels)} | "
            f"{t_himalaya / t_eigh:.1f}x | measured |")


def rate(seconds: float, voxels: int) -> str:
    return f"{seconds:.2f} s ({voxels / seconds:,.0f} voxels/s)"


def reduced_row(args) -> str:
    """Both banded solvers at a size where the design's decompositions matter (one voxel block)."""
    p = params("nsd.yaml", voxel_block=None)
    trials, features, voxels = args.nsd_trials, args.nsd_features, args.nsd_voxels
    data = problem(trials, features, voxels, 982)
    t_himalaya = timed(fit_banded, data, p, "himalaya")[1]
    t_eigh = timed(fit_banded, data, p, "eigh")[1]
    fitting = p.settings.ridge
    return (f"| reduced: {trials} trials, {features} + {features} features -> {voxels} voxels (n_iter "
            f"{p.band.n_iter}, {len(fitting.alphas)} alphas, {fitting.folds}-fold) | | {rate(t_himalaya, voxels)} | "
            f"{rate(t_eigh, voxels)} | {t_himalaya / t_eigh:.1f}x | measured |")


def duration(seconds: float) -> str:
    return f"{seconds / 3600:.1f} h" if seconds >= 3600 else f"{seconds / 60:.1f} min"


# H100, 2026-11-28: torch.linalg.svd of a fold's 19,984 x 12,800 float32 design; Gram + eigh of 12,800^2 (float64)
H100_SVD_S, H100_SVD_SHAPE = 29.0, (19984, 12800)
H100_EIGH_S = 2.15


def eigh_flops(fitting: ridge.Settings, trials: int, features: int) -> float:
    """Per voxel, the eigh solver's products for one fold and band weight: X'y over the training trials,
    into the eigenbasis, and each alpha's validation predictions."""
    val = trials // fitting.folds
    rank = min(trials - val, features)
    return 2.0 * ((trials - val) * features + features * rank + len(fitting.alphas) * val * rank)


def nsd_row() -> str:
    """NSD's cost of each solver from the H100's SVD and eigh times: himalaya's SVDs (n_iter x folds of the
    fold designs, n_iter of all trials, scaled as the SVD's m n^2) per voxel block; the eigh solver's
    decompositions once, and its per-voxel products at 50 TFLOP/s."""
    p = params("nsd.yaml")
    fitting = p.settings.ridge
    trials, features, n_test = 24980, 2 * p.pca_components, 982
    n_iter, folds = p.band.n_iter, fitting.folds
    fold_svd = H100_SVD_S * (trials - trials // folds) / H100_SVD_SHAPE[0] * (features / H100_SVD_SHAPE[1]) ** 2
    refit_svd = fold_svd * trials / (trials - trials // folds)
    block = banded.block_size(p.settings, "himalaya", trials, features, n_test)
    blocks = -(-NSD_VOXELS // block)
    himalaya = blocks * n_iter * (folds * fold_svd + refit_svd)
    decompositions = n_iter * (folds + 1) * H100_EIGH_S
    products = NSD_VOXELS * n_iter * folds * eigh_flops(fitting, trials, features) / 50e12
    return (f"| NSD: {trials} trials, {features // 2} + {features // 2} features -> {NSD_VOXELS:,} voxels "
            f"(n_iter {n_iter}, {len(fitting.alphas)} alphas, {folds}-fold) | | {duration(himalaya)} on an H100: "
            f"{n_iter * (folds + 1)} SVDs ({fold_svd:.0f} s each) in each of {blocks} blocks of {block:,} voxels | "
            f"{duration(decompositions + products)}: {n_iter * (folds + 1)} Gram eigendecompositions once "
            f"({H100_EIGH_S} s each on an H100, {duration(decompositions)}) + "
            f"{NSD_VOXELS * n_iter * folds * eigh_flops(fitting, trials, features):.1e} flop of products "
            f"({duration(products)} at 50 TFLOP/s) | {himalaya / (decompositions + products):.0f}x | estimated from "
            "the H100's SVD and eigh times (2026-11-28); himalaya's hat-matrix products and the transfers not "
            "counted |")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=800)
    parser.add_argument("--features", type=int, default=128)
    parser.add_argument("--voxels", type=int, default=4000)
    parser.add_argument("--nsd-trials", type=int, default=3000)
    parser.add_argument("--nsd-features", type=int, default=400, help="per space")
    parser.add_argument("--nsd-voxels", type=int, default=1000)
    parser.add_argument("--toy-only", action="store_true", help="skip the reduced size and the NSD estimate")
    args = parser.parse_args()
    warm = problem(40, 4, 5, 10)  # torch and himalaya's first calls are not timed
    concatenated(*warm, params("config.yaml"))
    for solver in ("himalaya", "eigh"):
        fit_banded(warm, params("config.yaml"), solver)
    print("| problem | concatenated (eigh, one alpha) | banded, himalaya solver | banded, eigh solver | "
          "himalaya / eigh | how |")
    print("|---|---|---|---|---|---|")
    print(toy_row(args))
    if not args.toy_only:
        print(reduced_row(args))
        print(nsd_row())


if __name__ == "__main__":
    main()
