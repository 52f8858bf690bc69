"""Identification speed: the vectorised scores against a loop of np.corrcoef.

After features are extracted, the workflow scores 982 test images x 5 samples for
every layer of both protocols. This script draws random features of each layer's
real size (ViT-L/14 CLIP, AlexNet, Inception v3, EfficientNet-B1, ResNet-50 at their
protocol input sizes), one layer at a time, and times the vectorised scores
(sdbrain.evaluation.evaluate). The reference, a double loop of np.corrcoef, is timed on
a subset of images and scaled to the full size (its cost grows with images squared).

Usage: python benchmarks/identification.py [--images 982] [--samples 5] [--loop-images 40]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
from sdbrain.evaluation import evaluate  # noqa: E402

SIZES = {"alexnet.features.5": 192 * 17 * 17, "alexnet.features.12": 256 * 8 * 8, "alexnet.classifier.5": 4096,
         "inception_v3.flatten": 2048, "clip.embeds": 768, "clip.hidden6": 257 * 1024, "clip.hidden12": 257 * 1024,
         "Alex2": 192 * 27 * 27, "Alex5": 256 * 13 * 13, "Incep": 2048, "CLIP": 768, "Eff": 1280, "SwAV": 2048}
PAPER = {f.metric for f in evaluate.rc.RECIPES["takagi"].features}
DISTANCE = {f.metric for f in evaluate.rc.RECIPES["mindeye"].features if f.score == "distance"}


def loop_paper(original, recon):
    n, s = recon.shape[:2]
    r = np.array([[np.mean([np.corrcoef(original[i], recon[j, k])[0, 1] for k in range(s)]) for j in range(n)]
                  for i in range(n)])
    return np.array([np.mean([r[i, i] > r[i, j] for j in range(n) if j != i]) for i in range(n)])


def score(name, original, recon):
    if name in PAPER:
        return evaluate.paper_identification(original, recon)
    if name in DISTANCE:
        return 1 - evaluate.paired_correlation(original, recon)
    return evaluate.community_identification(original, recon)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=982)
    parser.add_argument("--samples", type=int, default=5)
    parser.add_argument("--loop-images", type=int, default=40)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    total = 0.0
    for name, d in SIZES.items():
        original = rng.standard_normal((args.images, d), dtype=np.float32)
        recon = 0.2 * original[:, None] + rng.standard_normal((args.images, args.samples, d), dtype=np.float32)
        start = time.perf_counter()
        score(name, original, recon)
        total += time.perf_counter() - start
        del original, recon
    d = SIZES["alexnet.classifier.5"]
    k = args.loop_images
    original = rng.standard_normal((k, d), dtype=np.float32)
    recon = rng.standard_normal((k, args.samples, d), dtype=np.float32)
    start = time.perf_counter()
    expected = loop_paper(original, recon)
    loop = time.perf_counter() - start
    start = time.perf_counter()
    got = evaluate.paper_identification(original, recon)
    vectorised = time.perf_counter() - start
    assert np.allclose(expected, got)
    loop_full = loop * (args.images / k) ** 2
    print("| scored | vectorised, all 13 layers | reference: corrcoef loop, one 4096-d layer | speed-up on that layer |")
    print("|---|---|---|---|")
    print(f"| {args.images} images x {args.samples} samples | {total:.1f} s | {loop:.2f} s for {k} images "
          f"(about {loop_full / 60:.0f} min at {args.images}) | {loop / vectorised:.0f}x at {k} images |")


if __name__ == "__main__":
    main()
