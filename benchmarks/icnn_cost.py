"""Cost of the GAN init at NSD size: VGG19's feature sizes and storage, and the iCNN's seconds per image.

The features: VGG19's eight layers the reconstruction uses, their values per image (from bdpy's VGG19 at 224 px)
and their storage for a subject's images (NSD: 10,000 per subject who finished, 37 sessions) in float32 and
float16. The iCNN: bdpy's VGG19 and relu7 generator at their published sizes (random weights: the cost does not
depend on them), ``sdbrain.gan.icnn.reconstruct`` on random decoded features for ``--iterations`` iterations,
timed after one warm-up iteration; seconds per image = seconds per iteration x 200 (the released count).

Usage: python benchmarks/icnn_cost.py [--iterations 3 --images 10000 --threads 2]
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--iterations", type=int, default=3)
    parser.add_argument("--images", type=int, default=10000, help="a subject's images (NSD: 10,000)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    args = parser.parse_args()
    import torch
    from bdpy.dl.torch.models import VGG19, AlexNetGenerator

    from sdbrain.gan import icnn, networks, vgg19
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    encoder = networks.Encoder(VGG19().eval().to(args.device), np.float32([104, 117, 123]),
                               {k: np.ones((1, 1)) for k in networks.LAYERS}, 224)
    generator = networks.Generator(AlexNetGenerator().eval().to(args.device), np.full(4096, 30, np.float32))
    shapes = vgg19.shapes(encoder)
    sizes = {k: int(np.prod(s)) for k, s in shapes.items()}
    total = sum(sizes.values())
    print("| layer | shape | values per image | float16 per subject |")
    print("|---|---|---|---|")
    for layer, n in sizes.items():
        print(f"| {layer} | {' x '.join(map(str, shapes[layer]))} | {n:,} | {n * 2 * args.images / 1e9:.1f} GB |")
    print(f"| all eight | | {total:,} | {total * 2 * args.images / 1e9:.1f} GB (float32: "
          f"{total * 4 * args.images / 1e9:.1f} GB) |")
    rng = np.random.default_rng(0)
    decoded = {k: rng.standard_normal(n).astype(np.float32) for k, n in sizes.items()}
    icnn.reconstruct(encoder, generator, decoded, 0, 0, icnn.Settings(n_iter=1))   # warm-up
    start = time.perf_counter()
    icnn.reconstruct(encoder, generator, decoded, 0, 0, icnn.Settings(n_iter=args.iterations))
    per_iteration = (time.perf_counter() - start) / args.iterations
    print(f"\niCNN on {args.device} ({args.threads} threads): {per_iteration:.2f} s per iteration, "
          f"{per_iteration * 200 / 60:.1f} min per image at 200 iterations")


if __name__ == "__main__":
    main()
