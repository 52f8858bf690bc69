"""Reconstruction throughput: one batched process against one process per image.

Both run the workflow's code (sdbrain.reconstruction.reconstruct.run, method zc) on the same
decoded features with the toy-sized random model; the per-image reference starts a
fresh Python process for every image (load the model, reconstruct, exit), as a
naive job-per-image cluster submission would.

Usage: python benchmarks/reconstruction.py [--images 8] [--steps 20] [--size 64] [--batch 8]
On a CUDA machine the same script runs on the GPU (fp16) and states images per second.
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

WORDS = ["a", "red", "blue", "green", "circle", "square", "star", "on", "background"]


def setup(workdir: Path, n_images: int):
    import yaml

    from sdbrain.sd import features, pipeline
    from sdbrain.toy import model as toy_model
    model = workdir / "sd"
    if not model.exists():
        toy_model.build_random_pipeline(model, WORDS, yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["model"])
    pipe = pipeline.load_pipeline(model)
    rng = np.random.default_rng(0)
    ids = np.arange(1, n_images + 1)
    z = rng.normal(size=(n_images, int(np.prod(pipeline.latent_shape(pipe, 40))))).astype(np.float32)
    c = features.encode_c(pipe, [[f"a {w} circle"] for w in rng.choice(WORDS, n_images)], ids, batch_size=64)
    np.savez(workdir / "decoded.npz", ids=ids, z=z, c=c)
    return model


def reconstruct(model: Path, decoded: Path, rows: slice, sampling) -> int:
    from sdbrain import devices
    from sdbrain.reconstruction import reconstruct as rec
    from sdbrain.sd import pipeline
    data = np.load(decoded)
    pipe = pipeline.load_pipeline(model, devices.cuda_or_cpu("auto"))
    images = rec.run(pipe, "zc", 0.8, data["ids"][rows], data["z"][rows], data["c"][rows], 40, sampling)
    return images.shape[0] * images.shape[1]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--size", type=int, default=64)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # internal: reconstruct image ONE and exit
    parser.add_argument("--workdir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    from sdbrain import devices
    from sdbrain.sd import pipeline
    sampling = pipeline.Sampling(image_size=args.size, steps=args.steps, guidance_scale=5.0, eta=0.0, seed=0,
                                 batch_size=args.batch, n_samples=1)
    if args.one is not None:
        reconstruct(args.workdir / "sd", args.workdir / "decoded.npz", slice(args.one, args.one + 1), sampling)
        return
    workdir = Path(tempfile.mkdtemp(prefix="recon_bench_"))
    model = setup(workdir, args.images)
    start = time.perf_counter()
    n = reconstruct(model, workdir / "decoded.npz", slice(None), sampling)
    batched = time.perf_counter() - start
    start = time.perf_counter()
    for i in range(args.images):
        subprocess.run([sys.executable, __file__, "--one", str(i), "--workdir", str(workdir), "--steps", str(args.steps),
                        "--size", str(args.size), "--batch", "1"], check=True, capture_output=True)
    per_image = time.perf_counter() - start
    print(f"| device | images ({args.size} px, {args.steps} DDIM steps, img2img s=0.8) | batched, one process (batch {args.batch}) "
          f"| one process per image | speed-up |")
    print("|---|---|---|---|---|")
    print(f"| {devices.cuda_or_cpu('auto')} | {n} | {batched:.1f} s ({n / batched:.2f} images/s) | {per_image:.1f} s "
          f"({n / per_image:.2f} images/s) | {per_image / batched:.1f}x |")


if __name__ == "__main__":
    main()
