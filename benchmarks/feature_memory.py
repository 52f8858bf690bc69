"""Peak memory of diffusion-feature extraction: pooled as the activations stream, against
keeping every hooked activation at full resolution.

    python benchmarks/feature_memory.py [--images 64 400]

Each row is a fresh process that loads the shipped toy model (resources/toy_sd), renders
toy stimuli with their captions, and runs ``sdbrain.sd.diffusion.extract`` exactly as rule
diffusion_features does (noise level 0.5, the default config's steps, U-Net layers and
batch size). Ours pools each activation to the configured grid inside the forward hook;
the reference keeps the same activations at full resolution (a pooling grid as large as
the activation itself), as a hook that stores what it sees would. Peak memory is the
largest anonymous resident memory during extraction above its value before it
(benchmarks/peak.py, sampled every 2 ms).
400 images is the whole toy stimulus set of the default config (2 subjects).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))
from peak import Peak, in_fresh_process  # noqa: E402  (benchmarks/peak.py, beside this script)

FULL = 10**6  # a pooling grid no activation reaches: pool() then keeps every position


def child(n: int, grid: int) -> dict:
    import numpy as np
    import torch

    from sdbrain.sd import diffusion, features, pipeline
    from sdbrain.toy import world

    torch.set_num_threads(2)
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    f, r = config["features"], config["reconstruct"]
    pipe = pipeline.load_pipeline(ROOT / "resources/toy_sd")
    scenes = world.sample_scenes(n, np.random.default_rng(0))
    images = np.stack([world.render(s, 64) for s in scenes])
    c = features.embed_captions(pipe, [world.captions(s)[0] for s in scenes]).numpy().reshape(n, -1)
    sampling = pipeline.Sampling.pick(r, image_size=64)
    with Peak() as peak:
        out = diffusion.extract(pipe, images, c, np.arange(1, n + 1), 0.5, sampling, f["steps"], f["unet_layers"],
                                grid)
    return {"peak": peak.mib, "kept": sum(v.nbytes for v in out.values()) / 2**20, "spaces": len(out),
            "widest": max(v.shape[1] for v in out.values())}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=int, nargs="+", default=[64, 400])
    parser.add_argument("--child", type=int, nargs=2, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(*args.child)))
        return
    grid = yaml.safe_load((ROOT / "config/config.yaml").read_text())["features"]["unet_pool"]
    print(f"| images | features kept, pooled (grid {grid}) | peak, pooled | features kept, full resolution "
          "(reference) | peak, full resolution | ratio of peaks |")
    print("|---|---|---|---|---|---|")
    for n in args.images:
        ours, ref = in_fresh_process(__file__, n, grid), in_fresh_process(__file__, n, FULL)
        print(f"| {n} | {ours['kept']:.1f} MiB ({ours['spaces']} spaces, widest {ours['widest']:,}) | "
              f"{ours['peak']:.0f} MiB | {ref['kept']:.1f} MiB (widest {ref['widest']:,}) | {ref['peak']:.0f} MiB | "
              f"{ref['peak'] / max(ours['peak'], 1):.1f}x |")


if __name__ == "__main__":
    main()
