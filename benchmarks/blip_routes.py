"""BLIP at 240 px by the two routes of ``sdbrain-weights blip``: how far apart are their image tokens?

The released recipe builds BLIP at 240 px from ``model_base_capfilt_large.pth``: its 14 x 14 position embeddings
(224 px) interpolated bicubically to 15 x 15 (``blip.convert``). The hub's ``Salesforce/blip-image-captioning-base``
is transformers' conversion of the same checkpoint at 384 px (24 x 24); taking it to 240 px (``blip.resize``) is a
second interpolation, 14 -> 24 -> 15. Every other tensor is the same (tests/test_blip.py), so the routes differ by
the position embeddings alone. Here the same ViT-B (random weights, BLIP's shapes) runs with each route's position
embeddings on the same images, from two kinds of 14 x 14 grid: random values (no smoothness: the worst case) and
smooth ones (2-D sinusoids, as trained ViT position embeddings are near-smooth). The real checkpoint's difference
lies between (run this with the real files to measure it: ``--original``).

Usage: python benchmarks/blip_routes.py [--images 8] [--layers 12] [--original model_base_capfilt_large.pth]
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from sdbrain.text import blip  # noqa: E402


def grids(width: int, seed: int = 0) -> dict:
    """14 x 14 (+ CLS) position embeddings: random, and smooth (sinusoids of the patch row and column)."""
    import torch
    g = torch.Generator().manual_seed(seed)
    random = torch.randn(1, 197, width, generator=g) * 0.02
    rows, cols = np.meshgrid(np.arange(14), np.arange(14), indexing="ij")
    freq = np.linspace(0.1, 1.0, width // 2)
    smooth = np.concatenate([np.sin(rows.reshape(-1, 1) * freq), np.cos(cols.reshape(-1, 1) * freq)], 1) * 0.02
    smooth = torch.cat([random[:, :1], torch.from_numpy(smooth[None]).float()], 1)
    return {"random": random, "smooth": smooth}


def tokens_with(model, positions, images) -> np.ndarray:
    """The model's image tokens with ``positions`` as its position embeddings."""
    import torch
    with torch.no_grad():
        model.vision_model.embeddings.position_embedding.copy_(positions)
    return blip.image_tokens(model, images)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--layers", type=int, default=12, help="layers of the ViT and the text decoder (BLIP: 12)")
    parser.add_argument("--original", help="the real checkpoint: its position embeddings instead of generated ones")
    args = parser.parse_args()
    import torch
    from transformers import BlipForConditionalGeneration
    torch.manual_seed(0)
    layers = {"num_hidden_layers": args.layers}
    model = BlipForConditionalGeneration(blip.config(blip.IMAGE_SIZE, vision=layers, text=layers)).eval()
    vision = model.config.vision_config
    images = np.random.default_rng(1).integers(0, 256, (args.images, 240, 240, 3), dtype=np.uint8)
    sources = grids(vision.hidden_size)
    if args.original:
        sources = {"checkpoint": blip.read_original(args.original)["visual_encoder.pos_embed"].float()}
    print("| 14 x 14 grid | position embeddings: relative difference | image tokens: relative difference | "
          "tokens: r |\n|---|---|---|---|")
    for name, grid in sources.items():
        direct = blip.interpolate_positions(grid, 15)
        twice = blip.interpolate_positions(blip.interpolate_positions(grid, 24), 15)
        a, b = tokens_with(model, direct, images), tokens_with(model, twice, images)
        position = float((direct - twice).norm() / direct.norm())
        difference = float(np.linalg.norm(a - b) / np.linalg.norm(a))
        r = float(np.corrcoef(a.ravel(), b.ravel())[0, 1])
        print(f"| {name} | {position:.4f} | {difference:.4f} | {r:.5f} |")


if __name__ == "__main__":
    main()
