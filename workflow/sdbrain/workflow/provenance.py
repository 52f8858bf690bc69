"""What produced a run: the workflow's commit, the versions of the packages that matter, the machine."""
from __future__ import annotations

import platform
import subprocess
from importlib import metadata
from pathlib import Path

from sdbrain import machine

PACKAGES = ("torch", "torchvision", "diffusers", "transformers", "himalaya", "pycortex", "snakemake", "numpy")


def commit(directory: str | Path) -> str:
    """``git describe --always --dirty`` of the workflow's folder, or 'unknown' outside git."""
    try:
        out = subprocess.run(["git", "-C", str(directory), "describe", "--always", "--dirty", "--tags"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    return out.stdout.strip() if out.returncode == 0 and out.stdout.strip() else "unknown"


def versions() -> dict[str, str]:
    """Installed versions (of the environment this runs in), without importing the packages."""
    found = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            found[name] = "not installed in this environment"
    return found


def record(workflow_dir: str | Path) -> dict:
    """Return the run's provenance: the workflow's commit, the package versions and the machine (with its GPUs)."""
    return {"workflow_commit": commit(workflow_dir), "versions": versions(),
            "machine": machine.host(with_gpus=True)}
