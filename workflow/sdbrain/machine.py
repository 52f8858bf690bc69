"""The machine as a job sees it: its CPU, and the NVIDIA GPUs and driver that nvidia-smi lists.

Torch-free (both layers use it): the workflow probes for a GPU while Snakemake parses the rules, every job names its
host in its log, and ``sdbrain.devices`` names the driver when torch cannot use the GPU a job was given.
"""
from __future__ import annotations

import functools
import os
import re
import shutil
import subprocess

# set by the workflow for each job: '1' where its scheduler gave it a GPU (its gpu resource), else '0'
GPU_GIVEN = "SDBRAIN_GPU_GIVEN"


def gpu_given() -> bool:
    """Tell whether the scheduler gave this process a GPU (``GPU_GIVEN`` is '1')."""
    return os.environ.get(GPU_GIVEN) == "1"


def machine_has_gpu(devices: str = "/dev") -> bool:
    """Tell whether this machine shows an NVIDIA GPU to its jobs (the driver's device files under ``devices``).

    torch is not imported: the workflow calls this while Snakemake parses the rules.
    """
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1") or not os.path.isdir(devices):
        return False
    return any(re.fullmatch(r"nvidia\d+", name) for name in os.listdir(devices))


@functools.cache
def _nvidia_smi() -> tuple[list[tuple[str, str]], str]:
    """Run nvidia-smi once: (name, driver version) of each GPU it lists, or none and why.

    One run per process serves ``driver`` and ``gpus`` (a job's GPUs do not change while it runs).
    """
    smi = shutil.which("nvidia-smi")
    if smi is None:
        return [], "no nvidia-smi on the PATH"
    try:
        out = subprocess.run([smi, "--query-gpu=name,driver_version", "--format=csv,noheader"], capture_output=True,
                             text=True, timeout=20)
    except (OSError, subprocess.TimeoutExpired) as err:
        return [], f"nvidia-smi failed: {err}"
    rows = [tuple(part.strip() for part in line.rsplit(",", 1)) for line in out.stdout.splitlines() if line.strip()]
    if out.returncode != 0 or not rows:
        return [], f"nvidia-smi failed: {out.stderr.strip()[:200]}" if out.returncode else "nvidia-smi lists no GPU"
    return rows, ""


def driver() -> str:
    """Name the NVIDIA driver version as nvidia-smi reports it, or why there is none."""
    rows, why = _nvidia_smi()
    return f"NVIDIA driver {rows[0][1]}" if rows else why


def gpus() -> str:
    """List the GPUs nvidia-smi reports, or say that there is none to list."""
    rows, why = _nvidia_smi()
    return "GPU " + "; ".join(", ".join(row) for row in rows) + " (name, driver)" if rows else f"no NVIDIA GPU ({why})"


def host(with_gpus: bool = True) -> str:
    """Describe this machine: host name, CPU model and (``with_gpus``) the GPUs nvidia-smi lists."""
    import platform
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{platform.node()}, CPU {cpu} ({os.cpu_count()} logical)" + (f", {gpus()}" if with_gpus else "")
