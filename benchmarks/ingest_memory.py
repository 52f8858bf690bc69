"""Peak memory of ingestion (one session at a time) against loading every session at once.

Usage (after `snakemake results/toy/grid.npz` has written pycortex S1's grid):
    python benchmarks/ingest_memory.py [--sessions 12] [--trials 300] [--workdir /tmp/ingest_bench]

Writes a one-subject toy NSD of the given size on S1's grid (31 x 100 x 100, 47,530
brain voxels), then runs, each in a fresh process under /usr/bin/time -v:
  ingest     -- sdbrain.data.ingest.ingest_subject (the workflow's code path)
  reference  -- read every session's betas into memory, then mask (the naive approach)
and prints the maximum resident set size of each next to the data sizes.
"""
from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

ROIS = {"early": ("streams", (1,)), "ventral": ("streams", (5,)), "brain": ("brainmask", (1,))}  # label file, labels


def make_tree(workdir: Path, grid_path: Path, sessions: int, trials: int) -> Path:
    from sdbrain.toy import world
    root = workdir / "nsd"
    if not (root / "nsddata").exists():
        params = dict(seed=0, n_subjects=1, n_sessions=sessions, trials_per_session=trials, n_shared=trials // 6,
                      shared_repeats=3, train_repeats=2, image_size=64, noise_sd=1.0, amplitude=1.0, mixed_amplitude=0.5)
        world.write_toy_nsd(root, workdir / "truth", dict(np.load(grid_path)), params)
    return root


def run_ingest(root: Path, out: Path, sessions: int) -> None:
    from sdbrain.data import ingest, nsd
    layout = nsd.Layout(root)
    ids = nsd.test_ids(layout, ["subj01"], range(1, sessions + 1))
    rois = {name: ingest.RoiLabels(*spec) for name, spec in ROIS.items()}
    ingest.ingest_subject(layout, "subj01", list(range(1, sessions + 1)), rois, ids, out)


def run_reference(root: Path, sessions: int) -> None:
    import h5py

    from sdbrain.data import nsd
    layout = nsd.Layout(root)
    betas = []
    for s in range(1, sessions + 1):
        with h5py.File(layout.betas("subj01", s), "r") as f:
            betas.append(f["betas"][:])
    betas = np.concatenate(betas)
    mask = nsd.read_volume(layout.roi("subj01", "brainmask")) == 1
    brain = betas[:, mask].astype(np.float32) / 300
    print(brain.shape)


def measure(mode: str, args) -> int:
    cmd = ["/usr/bin/time", "-v", sys.executable, __file__, "--mode", mode, "--sessions", str(args.sessions),
           "--trials", str(args.trials), "--workdir", str(args.workdir), "--grid", str(args.grid)]
    result = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return int(re.search(r"Maximum resident set size \(kbytes\): (\d+)", result.stderr).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sessions", type=int, default=12)
    parser.add_argument("--trials", type=int, default=300)
    parser.add_argument("--workdir", type=Path, default=Path("/tmp/ingest_bench"))
    parser.add_argument("--grid", type=Path, default=ROOT / "results/toy/grid.npz")
    parser.add_argument("--mode", choices=["ingest", "reference"])
    args = parser.parse_args()
    root = args.workdir / "nsd"
    if args.mode == "ingest":
        return run_ingest(root, args.workdir / "out", args.sessions)
    if args.mode == "reference":
        return run_reference(root, args.sessions)
    if not args.grid.exists():
        sys.exit(f"ERROR: {args.grid} is missing; run `snakemake results/toy/grid.npz` first")
    make_tree(args.workdir, args.grid, args.sessions, args.trials)
    mask = np.load(args.grid)["mask"]
    session_int16 = args.trials * mask.size * 2 / 2**20
    session_masked = args.trials * mask.sum() * 4 / 2**20
    peak_ingest = measure("ingest", args) / 1024
    outputs = sum(p.stat().st_size for p in (args.workdir / "out").glob("*.npy")) / 2**20
    peak_reference = measure("reference", args) / 1024
    print("| sessions x trials | one session, full volume int16 | one session, masked float32 | outputs (.npy) "
          "| peak RSS ingest | peak RSS load-all reference | ratio |")
    print("|---|---|---|---|---|---|---|")
    print(f"| {args.sessions} x {args.trials} | {session_int16:.0f} MiB | {session_masked:.0f} MiB | {outputs:.0f} MiB | "
          f"{peak_ingest:.0f} MiB | {peak_reference:.0f} MiB | {peak_reference / peak_ingest:.1f}x |")


if __name__ == "__main__":
    main()
