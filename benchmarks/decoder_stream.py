"""Peak memory of the streaming decoder (ridge.Prepared.stream) against the in-memory one, as targets grow.

A decoder of very wide targets (BLIP's image tokens: 173,568 values per image) cannot hold its targets and weights
at NSD size. The streaming decoder reads a block of targets from the feature file (one row per stimulus, expanded
to the trials that showed it), fits it with the design's decompositions (made once), writes the block's test
predictions (from the eigenbasis, never forming its weights) to a file. Its block is sized by a memory budget
(``ridge.target_batch``), so its peak memory should not grow with the number of targets; the in-memory
decoder's (``ridge.fit(...).predict``) does.

Each row is a fresh process, its imports and thread pools started first. Its peak resident set (VmHWM) above
that start, after the design's decompositions (``ridge.prepare``: the folds' and the refit's, made once) and at the
end (the targets fitted, predicted and written too: the budget ``--memory-mb`` bounds the difference; the
allocator reuses the decompositions' freed temporaries). Predictions and alphas of the two decoders are compared.

Usage: python benchmarks/decoder_stream.py [--trials 2000 --voxels 3000 --test 200 --targets 20000 80000
--memory-mb 64]
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

WORKFLOW = Path(__file__).resolve().parents[1] / "workflow"
sys.path.insert(0, str(WORKFLOW))

from sdbrain.workflow.hardware import ALLOCATOR  # noqa: E402  (glibc's settings, as the workflow's jobs run)

ALPHAS = [1e4, 2e4, 4e4]  # the released recipe's grid for the decoded text's BLIP features


def rss_mb(field: str) -> float:
    """A field of /proc/self/status (VmRSS, VmHWM) in MiB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def write_problem(folder: Path, n_trials: int, n_voxels: int, n_test: int, n_targets: int, seed: int = 0) -> None:
    """Betas (trials and test rows) and a feature file (stimuli x targets) written a column block at a time."""
    from sdbrain.data import io
    rng = np.random.default_rng(seed)
    n_stimuli = n_trials // 2
    np.save(folder / "stimulus.npy", rng.integers(0, n_stimuli, n_trials))
    latent = rng.normal(size=(n_stimuli, 32)).astype(np.float32)
    mixing = rng.normal(size=(32, n_voxels)).astype(np.float32)
    stimulus = np.load(folder / "stimulus.npy")
    np.save(folder / "x.npy", (latent[stimulus] @ mixing + rng.normal(size=(n_trials, n_voxels)) * 4).astype(np.float32))
    np.save(folder / "x_test.npy", (rng.normal(size=(n_test, 32)) @ mixing).astype(np.float32))
    features = io.ColumnBlocks(folder / f"features_{n_targets}.npy", create=(n_stimuli, n_targets))
    for start in range(0, n_targets, 10000):
        block = slice(start, min(start + 10000, n_targets))
        width = block.stop - block.start
        features[:, block] = latent @ rng.normal(size=(32, width)) + rng.normal(size=(n_stimuli, width)) * 2


def flops(n_trials: int, n_voxels: int, n_test: int, n_targets: int, n_alphas: int = 3, folds: int = 5) -> dict:
    """The streamed decoder's arithmetic (multiply-adds x 2) in the dual form, voxels outnumbering trials.

    design: per fold and for the refit, the trials' kernel (float64) and its eigendecomposition (about 4 n^3), the
    validation rows and the test rows in the eigenbasis; targets: per fold the targets in the eigenbasis and the
    validation predictions at each alpha, for the refit the targets in the eigenbasis and the test rows' predictions
    from it (no weights are formed).
    """
    n_val = n_trials // folds
    n_fit = n_trials - n_val
    design = (folds * (2 * n_fit**2 * n_voxels + 4 * n_fit**3 + 2 * n_val * n_voxels * n_fit + 2 * n_val * n_fit**2)
              + 2 * n_trials**2 * n_voxels + 4 * n_trials**3 + 2 * n_test * n_voxels * n_trials + 2 * n_test * n_trials**2)
    per_target = folds * (2 * n_fit**2 + n_alphas * 2 * n_val * n_fit) + 2 * n_trials**2 + 2 * n_test * n_trials
    return {"design": float(design), "targets": float(per_target) * n_targets}


def himalaya_dual(x: np.ndarray, y: np.ndarray, x_test: np.ndarray, n_targets_batch: int | None):
    """himalaya's KernelRidgeCV (its RidgeCV in the dual form) as its own user would run it: fit, predict.

    It keeps its dual coefficients (trials x targets) and predicts from them; the workflow's wrapper
    (``ridge._fit_himalaya``) also forms the primal weights (voxels x targets), 14 GB at 20,000 voxels x 173,568
    targets, more than this machine has.
    """
    from himalaya.backend import get_backend
    from himalaya.kernel_ridge import KernelRidgeCV
    from sklearn.model_selection import KFold
    batch = {"n_targets_batch": n_targets_batch, "n_targets_batch_refit": n_targets_batch}
    model = KernelRidgeCV(alphas=np.asarray(ALPHAS, dtype=np.float32), kernel="linear", fit_intercept=True,
                          cv=KFold(n_splits=5, shuffle=False), solver_params=batch)
    model.fit(x, y)
    backend = get_backend()
    return backend.to_numpy(model.predict(x_test)), backend.to_numpy(model.best_alphas_)


def child(folder: Path, mode: str, n_targets: int, memory_mb: float, himalaya_batch: int | None = None) -> dict:
    """Run one decoder in this (fresh) process; its peak memory above the loaded design, its time."""
    from sdbrain.data import io
    from sdbrain.linear import ridge
    x, x_test = np.load(folder / "x.npy"), np.load(folder / "x_test.npy")
    stimulus = np.load(folder / "stimulus.npy")
    # himalaya: KernelRidgeCV where voxels outnumber trials (fit and predict, as its user runs it), else its RidgeCV
    # through the workflow's wrapper; it has no decomposition to make before the targets, so its peak is at the end
    settings = ridge.Settings(ALPHAS, folds=5, fit_intercept=True, solver="himalaya" if mode == "himalaya" else "eigh",
                              n_targets_batch=None)
    # imports and thread pools are not the decoder's memory: start them, then reset the peak (clear_refs 5)
    import sklearn.model_selection  # noqa: F401
    import torch
    torch.ones(256, 256) @ torch.ones(256, 256)
    Path("/proc/self/clear_refs").write_text("5")
    base = rss_mb("VmRSS")
    start = time.perf_counter()
    prepared = ridge.prepare(x, settings)  # the design's decompositions: once, whatever the number of targets
    design_mb = rss_mb("VmHWM") - base
    if mode == "himalaya" and x.shape[0] < x.shape[1]:
        y = np.load(folder / f"features_{n_targets}.npy")[stimulus]
        # the same standardised inputs (the released recipe's scaling) as the stream's
        predictions, alphas = himalaya_dual(prepared.xs, y, prepared.standardiser(x_test), himalaya_batch)
        np.save(folder / f"himalaya_{n_targets}.npy", predictions)
        batch = himalaya_batch or n_targets
    elif mode == "himalaya":
        y = np.load(folder / f"features_{n_targets}.npy")[stimulus]
        model = prepared.fit(y)
        np.save(folder / f"himalaya_{n_targets}.npy", model.predict(x_test))
        alphas, batch = model.alphas, n_targets
    elif mode == "stream":
        batch = ridge.target_batch(memory_mb, len(x), x.shape[1], len(x_test), len(ALPHAS))
        out = io.ColumnBlocks(folder / f"stream_{n_targets}.npy", create=(len(x_test), n_targets))
        alphas = prepared.stream(io.ColumnBlocks(folder / f"features_{n_targets}.npy", rows=stimulus), x_test, out,
                                 batch)
    else:
        batch = n_targets
        y = np.load(folder / f"features_{n_targets}.npy")[stimulus]
        model = prepared.fit(y)
        np.save(folder / f"memory_{n_targets}.npy", model.predict(x_test))
        alphas = model.alphas
    np.save(folder / f"alphas_{mode}_{n_targets}.npy", alphas)
    return {"seconds": time.perf_counter() - start, "peak_mb": rss_mb("VmHWM") - base, "batch": batch,
            "design_mb": design_mb, "alphas": np.asarray(alphas).tolist()}


def run_child(folder: Path, mode: str, n_targets: int, memory_mb: float, himalaya_batch: int | None = None) -> dict:
    code = (f"import sys; sys.path.insert(0, {str(Path(__file__).parent)!r}); import decoder_stream as d, json; "
            f"from pathlib import Path; print(json.dumps(d.child(Path({str(folder)!r}), {mode!r}, {n_targets}, "
            f"{memory_mb}, {himalaya_batch})))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env={"PYTHONPATH": str(WORKFLOW), "OMP_NUM_THREADS": "2", "PATH": "/usr/bin:/bin",
                                 **ALLOCATOR})
    return json.loads(result.stdout.strip().splitlines()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--trials", type=int, default=2000)
    parser.add_argument("--voxels", type=int, default=3000)
    parser.add_argument("--test", type=int, default=200)
    parser.add_argument("--targets", type=int, nargs="+", default=[20000, 80000])
    parser.add_argument("--memory-mb", type=float, default=64)
    parser.add_argument("--no-memory", action="store_true", help="skip the in-memory decoder")
    parser.add_argument("--himalaya", action="store_true", help="also himalaya's RidgeCV (KernelRidgeCV in dual form)")
    parser.add_argument("--himalaya-batch", type=int, default=None,
                        help="himalaya's n_targets_batch (default: every target at once)")
    parser.add_argument("--nsd-voxels", type=int, default=40000, help="six streams' voxels for the NSD projection")
    args = parser.parse_args()
    print(f"{args.trials} trials x {args.voxels} voxels ({'dual' if args.voxels > args.trials else 'primal'} form), "
          f"{args.test} test rows, alphas {ALPHAS}, 5 folds; budget {args.memory_mb:g} MiB\n")
    print("| targets | decoder | targets per block | peak after the decompositions (MiB) | peak at the end (MiB) | "
          "time (s) | alphas as the stream's | largest relative difference from the stream |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for n_targets in args.targets:
            write_problem(folder, args.trials, args.voxels, args.test, n_targets)
            rows = {"stream": run_child(folder, "stream", n_targets, args.memory_mb)}
            if not args.no_memory:
                rows["in memory"] = run_child(folder, "memory", n_targets, args.memory_mb)
            if args.himalaya:
                rows["himalaya"] = run_child(folder, "himalaya", n_targets, args.memory_mb, args.himalaya_batch)
            stream = np.load(folder / f"stream_{n_targets}.npy")
            for name, r in rows.items():
                same = diff = ""
                if name != "stream":  # against the streamed decoder
                    other = np.load(folder / f"{'memory' if name == 'in memory' else name}_{n_targets}.npy")
                    diff = f"{(np.linalg.norm(stream - other, axis=0) / np.linalg.norm(other, axis=0)).max():.1e}"
                    same = f"{np.mean(np.isclose(np.load(folder / f'alphas_stream_{n_targets}.npy'), r['alphas'], rtol=1e-5)):.4f}"
                print(f"| {n_targets:,} | {name} | {r['batch']:,} | {r['design_mb']:.0f} | {r['peak_mb']:.0f} | "
                      f"{r['seconds']:.1f} | {same} | {diff} |")
            for path in folder.glob(f"*_{n_targets}.npy"):
                path.unlink()
            if args.voxels > args.trials:
                work = flops(args.trials, args.voxels, args.test, n_targets)
                rate = (work["design"] + work["targets"]) / rows["stream"]["seconds"]
                print(f"|  | the stream's arithmetic: {(work['design'] + work['targets']) / 1e12:.2f} TFLOP, "
                      f"{rate / 1e9:.0f} GFLOP/s here |  |  |  |  |  |  |")
    if args.voxels > args.trials:
        nsd = flops(24980, args.nsd_voxels, 982, 173568)
        print(f"\nAt NSD size (24,980 trials x {args.nsd_voxels:,} voxels -> 173,568 targets, 982 test images): the "
              f"design {nsd['design'] / 1e12:.0f} TFLOP (float64), the targets {nsd['targets'] / 1e12:.0f} TFLOP "
              "(float32).")


if __name__ == "__main__":
    main()
