"""What a job pays before and after its work: each module's import in a fresh Python process, the
evaluation networks' construction, a CPU job's compute with glibc's default allocator against the
workflow's (``sdbrain.workflow.hardware.ALLOCATOR``), and the exit of a process that loaded the SD pipeline with
and without ``gc.freeze`` (what ``sdbrain.workflow.job.run`` does after a job's main).

    python benchmarks/startup.py [--repeats 3]

Prints Markdown tables (the median of the repeats, wall seconds). Run it alone on the machine.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

# what the rules' scripts import, alone and as the package modules they use
MODULES = ["numpy", "pandas", "nibabel", "matplotlib.pyplot", "sklearn.decomposition", "torch", "diffusers", "cortex",
           "sdbrain.linear.encode", "sdbrain.maps.volumes", "sdbrain.evaluation.evaluate"]

NETWORKS = """
import time, torch
torch.set_num_threads(1)
from sdbrain.evaluation import networks
clip = dict(hidden_size=128, intermediate_size=256, num_hidden_layers=12, num_attention_heads=4, image_size=224,
            patch_size=32, projection_dim=64)
start = time.perf_counter()
networks.load_networks({}, 0, clip)
print(time.perf_counter() - start)
"""

# one U-Net call at the reconstruction's batch (5 samples x 10 images x 2 guidance halves) and Inception v3 at
# MindEye's 342 px, one thread, after a warm-up call
COMPUTE = """
import sys, time, torch
torch.set_num_threads(1)
what = sys.argv[1]
if what == "unet":
    from sdbrain.sd import pipeline
    unet = pipeline.load_pipeline(sys.argv[2], "cpu").unet
    x, c = torch.randn(100, 4, 16, 16), torch.randn(100, 77, unet.config.cross_attention_dim)
    call = lambda: unet(x, torch.tensor(500), encoder_hidden_states=c)
else:
    from sdbrain.evaluation import evaluate, networks
    net = networks.build_network("inception_v3", None, 0, {})
    extract, x = evaluate.feature_extractor(net, "inception_v3", ["avgpool"]), torch.randn(16, 3, 342, 342)
    call = lambda: extract(x)
with torch.inference_mode():
    call()
    start = time.perf_counter()
    for _ in range(3):
        call()
print((time.perf_counter() - start) / 3)
"""

# a job that loaded the pipeline ends: the seconds from its last statement to the end of its process
EXIT = """
import gc, sys, time
from sdbrain.sd import pipeline
pipeline.load_pipeline(sys.argv[1], "cpu")
if sys.argv[2] == "freeze":
    gc.freeze()
print(time.time())
"""


def seconds(args: list[str], allocator: dict | None = None, timed_by_child: bool = False) -> float:
    """Wall seconds of a fresh Python process (or the seconds it prints), with glibc's default allocator
    settings or ``allocator``."""
    from sdbrain.workflow.hardware import ALLOCATOR
    env = {k: v for k, v in os.environ.items() if k not in ALLOCATOR}
    env.update(PYTHONPATH=str(ROOT / "workflow"), **(allocator or {}))
    start = time.perf_counter()
    out = subprocess.run([sys.executable, *args], capture_output=True, text=True, env=env, check=True)
    return float(out.stdout.split()[-1]) if timed_by_child else time.perf_counter() - start


def exit_seconds(model: str, freeze: bool) -> float:
    """Seconds from a fresh process's last statement (after loading the SD pipeline) to its end."""
    out = subprocess.run([sys.executable, "-c", EXIT, model, "freeze" if freeze else "plain"], capture_output=True,
                         text=True, env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")}, check=True)
    return time.time() - float(out.stdout.split()[-1])


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--model", default=str(ROOT / "resources/toy_sd"))
    args = parser.parse_args()
    def median(*call, **options):
        return statistics.median(seconds(*call, **options) for _ in range(args.repeats))

    bare = median(["-c", "pass"])
    print("| import (fresh process) | seconds |\n|---|---|")
    print(f"| (Python alone) | {bare:.2f} |")
    for module in MODULES:
        print(f"| {module} | {median(['-c', f'import {module}']) - bare:.2f} |")
    print(f"| evaluation networks built (seeded random weights) | "
          f"{median(['-c', NETWORKS], timed_by_child=True):.2f} |")
    from sdbrain.workflow.hardware import ALLOCATOR
    print("\n| one call, one thread | glibc defaults (s) | workflow's allocator (s) | ratio |\n|---|---|---|---|")
    for what, label in (("unet", "toy U-Net, batch 100"), ("inception", "Inception v3 at 342 px, batch 16")):
        call = ["-c", COMPUTE, what, args.model]
        before, after = median(call, timed_by_child=True), median(call, ALLOCATOR, timed_by_child=True)
        print(f"| {label} | {before:.3f} | {after:.3f} | {after / before:.2f} |")
    plain = statistics.median(exit_seconds(args.model, False) for _ in range(args.repeats))
    frozen = statistics.median(exit_seconds(args.model, True) for _ in range(args.repeats))
    print("\n| exit after loading the SD pipeline | as Python ends (s) | after gc.freeze (s) | ratio |\n|---|---|---|---|")
    print(f"| toy pipeline | {plain:.2f} | {frozen:.2f} | {frozen / plain:.2f} |")


if __name__ == "__main__":
    main()
