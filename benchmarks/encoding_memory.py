"""Peak memory of a whole-brain encoding fit at 200,000 voxels: voxel blocks planned from a
memory budget (encode.memory_mb), against fitting all voxels as one block.

    python benchmarks/encoding_memory.py [--voxels 200000 --trials 1000 --features 256]

A synthetic subject at NSD's width (200k voxels) with fewer trials (1,000 training
trials, 256 PCA features, 100 test images; 8 alphas, 5 folds, intercept) so that it runs
on this CPU. Training responses are a memory-mapped .npy on disk, as the ingested betas
are. Each row is a fresh process running ``sdbrain.linear.encode.fit_voxels``; peak memory is the
largest anonymous resident memory (RssAnon, sampled every 2 ms) above its value just
before the fit: the process's own arrays, not the memory-mapped file's pages, which the
kernel can drop at will.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
from peak import Peak, in_fresh_process  # noqa: E402  (benchmarks/peak.py, beside this script)

ALPHAS = [1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7]


def write_problem(d: Path, trials: int, features: int, voxels: int, test: int) -> None:
    """Responses with signal in every voxel, written in column blocks to memory-mapped files."""
    rng = np.random.default_rng(0)
    x, x_test = rng.standard_normal((trials, features), np.float32), rng.standard_normal((test, features), np.float32)
    np.save(d / "x.npy", x)
    np.save(d / "x_test.npy", x_test)
    y = np.lib.format.open_memmap(d / "y.npy", "w+", np.float32, (trials, voxels))
    y_test = np.lib.format.open_memmap(d / "y_test.npy", "w+", np.float32, (test, voxels))
    for start in range(0, voxels, 20000):
        w = rng.standard_normal((features, min(20000, voxels - start)), np.float32) / features ** 0.5
        y[:, start:start + w.shape[1]] = x @ w + rng.standard_normal((trials, w.shape[1]), np.float32)
        y_test[:, start:start + w.shape[1]] = x_test @ w + rng.standard_normal((test, w.shape[1]), np.float32)
    y.flush()
    y_test.flush()


def child(d: Path, memory_mb: int, voxel_block: int) -> dict:
    import torch

    from sdbrain.linear import encode, ridge

    torch.set_num_threads(2)
    x, x_test = np.load(d / "x.npy"), np.load(d / "x_test.npy")
    y, y_test = np.load(d / "y.npy", mmap_mode="r"), np.load(d / "y_test.npy", mmap_mode="r")
    fitting = ridge.Settings(ALPHAS, folds=5, fit_intercept=True, backend="torch", n_targets_batch=10000)
    settings = encode.Settings(fitting, fdr_q=0.05, memory_mb=memory_mb, voxel_block=voxel_block)
    block = encode.voxel_block(settings, len(x), x.shape[1], len(x_test))
    t0 = time.perf_counter()
    with Peak() as peak:
        result = encode.fit_voxels(x, np.arange(len(x)), x_test, y, y_test, settings)
    seconds = time.perf_counter() - t0
    return {"block": block, "peak": peak.mib, "seconds": seconds, "median_r": float(np.median(result.r))}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--voxels", type=int, default=200_000)
    parser.add_argument("--trials", type=int, default=1000)
    parser.add_argument("--features", type=int, default=256)
    parser.add_argument("--test", type=int, default=100)
    parser.add_argument("--budgets", type=int, nargs="+", default=[256, 1024])
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), int(args.child[1]), int(args.child[2]))))
        return
    from sdbrain.linear import encode

    with tempfile.TemporaryDirectory(prefix="encoding_memory_") as tmp:
        d = Path(tmp)
        write_problem(d, args.trials, args.features, args.voxels, args.test)
        print(f"{args.trials:,} trials x {args.features} features -> {args.voxels:,} voxels "
              f"(training responses {args.trials * args.voxels * 4 / 2**20:,.0f} MiB on disk)\n")
        print("| memory budget | voxels per block (planned) | blocks | peak memory of the fit | within budget "
              "| time | median test r |")
        print("|---|---|---|---|---|---|---|")
        rows = [(budget, args.voxels) for budget in args.budgets] + [(0, args.voxels)]
        for budget, cap in rows:
            m = in_fresh_process(__file__, d, budget, cap)
            blocks = -(-args.voxels // m["block"])
            label = f"{budget:,} MB" if budget else "none: one block (reference)"
            within = ("yes" if m["peak"] <= budget else "NO") if budget else ""
            print(f"| {label} | {m['block']:,} | {blocks} | {m['peak']:,.0f} MiB | {within} | {m['seconds']:.0f} s | "
                  f"{m['median_r']:.3f} |")
    nsd = encode.planned_block(24980, 6400, 982, 16000)
    print(f"\nPlanned at NSD size (24,980 trials x 6,400 features, 982 test images, encode.memory_mb 16,000 in "
          f"config/nsd.yaml): {nsd:,} voxels per block, {-(-200_000 // nsd)} blocks for 200k voxels.")


if __name__ == "__main__":
    main()
