"""Cost of the validity analysis at NSD size: 982 test images against a subject's training
images (NSD: about 9,000 images seen 3 times, up to 27,000 for a subject's whole stimulus
set; default 27,000), in the late feature (CLIP ViT-L/14's embedding, 768), z (6,400) and
c (77 x 768 = 59,136).

    python benchmarks/validity.py [--train 27000] [--test 982] [--memory-mb 8000]

Training features are memory-mapped float32 .npy files on disk, as the workflow's feature
files are; each search runs in a fresh process and its peak is the anonymous resident memory
above its value on entry (benchmarks/peak.py): the arrays it makes, not the mapped pages.
Searches: nearest training image (novelty), novel C+1-way identification, the retrieval
baseline over z and c, the top-k training components of c (collapse), and N-way
identification with 100 pools at N = 50 among the test images.
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
from peak import Peak, in_fresh_process  # noqa: E402

DIMS = {"late": 768, "z": 6400, "c": 59136}


def write(d: Path, n_train: int, n_test: int) -> None:
    rng = np.random.default_rng(0)
    for name, dims in DIMS.items():
        train = np.lib.format.open_memmap(d / f"{name}_train.npy", "w+", np.float32, (n_train, dims))
        for start in range(0, n_train, 2000):
            rows = min(2000, n_train - start)
            train[start:start + rows] = rng.standard_normal((rows, dims), np.float32)
        train.flush()
        np.save(d / f"{name}_test.npy", rng.standard_normal((n_test, dims), np.float32))
        np.save(d / f"{name}_decoded.npy", rng.standard_normal((n_test, dims), np.float32))


def child(d: Path, what: str, memory_mb: float) -> dict:
    import torch

    from sdbrain.evaluation import validity

    torch.set_num_threads(2)
    load = lambda name, part: np.load(d / f"{name}_{part}.npy", mmap_mode="r" if part == "train" else None)  # noqa: E731
    start = time.perf_counter()
    with Peak() as peak:
        if what.startswith("nearest"):
            name = what.split(":")[1]
            validity.nearest_training(load(name, "test"), load(name, "train"), memory_mb)
        elif what.startswith("cplus1"):
            name = what.split(":")[1]
            validity.novel_identification(load(name, "decoded"), load(name, "test"), load(name, "train"), memory_mb)
        elif what == "retrieval":
            validity.retrieval_baseline([load("z", "decoded"), load("c", "decoded")],
                                        [load("z", "train"), load("c", "train")], memory_mb)
        elif what == "components":
            validity.training_components(load("c", "train"), 100, 0, memory_mb)
        elif what == "nway":
            s = np.random.default_rng(0).standard_normal((load("late", "test").shape[0],) * 2)
            validity.n_way_identification(s, 50, 100, 0)
    return {"seconds": time.perf_counter() - start, "peak_mib": peak.mib}


LABELS = {
    "nearest:late": "nearest training image, late feature (768)",
    "nearest:c": "nearest training image, c (59,136)",
    "cplus1:late": "novel C+1-way identification, late feature",
    "cplus1:z": "novel C+1-way identification, z (6,400)",
    "cplus1:c": "novel C+1-way identification, c",
    "retrieval": "retrieval baseline, z and c",
    "components": "top 100 training components of c (collapse)",
    "nway": "50-way identification, 100 pools per image",
}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--train", type=int, default=27000)
    parser.add_argument("--test", type=int, default=982)
    parser.add_argument("--memory-mb", type=float, default=8000)
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), args.child[1], float(args.child[2]))))
        return
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        write(d, args.train, args.test)
        print(f"| search ({args.test} test against {args.train:,} training images; memory_mb {args.memory_mb:g}) | "
              "seconds | peak memory (MiB) |")
        print("|---|---|---|")
        for what, label in LABELS.items():
            row = in_fresh_process(__file__, d, what, args.memory_mb)
            print(f"| {label} | {row['seconds']:.1f} | {row['peak_mib']:,.0f} |", flush=True)


if __name__ == "__main__":
    main()
