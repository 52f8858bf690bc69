"""What a job may use of the machine: its declared threads, and the GPU it asked for.

``guarded`` calls ``limit_threads`` and ``expect_gpu`` from the job's ``snakemake`` object
before the script's ``main`` runs; the device choices (``sd.device``, the ridge backend)
then call ``cuda_or_cpu`` so that a job given a GPU never drifts to the CPU unnoticed.
"""
from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import warnings

from .errors import InputError

# the variables that OpenMP, OpenBLAS, MKL, Accelerate and numexpr read when they load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

_gpu_expected = False

# glibc's allocator, as every job starts: blocks up to 32 MB come from the heap, and up to 1 GB of freed heap is
# kept rather than handed back to the kernel. A CPU job allocates and frees its activations at every layer; by
# default glibc returns them and faults the pages in again at the next call (measured: the toy U-Net at batch 100
# about 8 % faster, the evaluation networks 6-11 %, the same values; benchmarks/RESULTS.md).
ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


def keep_freed_memory() -> None:
    """Set ``ALLOCATOR`` for the processes started from here on (the workflow's jobs), unless the
    environment sets those variables already (glibc reads them when a process starts)."""
    for name, value in ALLOCATOR.items():
        os.environ.setdefault(name, value)


def limit_threads(n: int) -> None:
    """Make BLAS/OpenMP and torch (intra- and inter-op) use ``n`` threads in this process.

    Libraries not loaded yet read the environment; those already loaded (numpy's BLAS) are
    limited through threadpoolctl; torch is set now if imported, else when it is imported
    (torch is never imported here: table-only jobs would pay its start-up)."""
    n = max(1, int(n))
    for name in THREAD_VARIABLES:
        os.environ[name] = str(n)
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # the environment variables above are then the only control
        pass
    else:
        threadpool_limits(n)
    if "torch" in sys.modules:
        _torch_threads(sys.modules["torch"], n)
    elif not any(isinstance(f, _TorchThreads) for f in sys.meta_path):
        sys.meta_path.insert(0, _TorchThreads(n))


def _torch_threads(torch, n: int) -> None:
    torch.set_num_threads(n)
    if torch.get_num_interop_threads() != n:
        try:
            torch.set_num_interop_threads(n)
        except RuntimeError:  # only possible before torch's first parallel work; the intra-op count still holds
            warnings.warn(f"torch already ran parallel work: {torch.get_num_interop_threads()} inter-op threads, "
                          f"not {n}", stacklevel=2)


class _TorchThreads(importlib.abc.MetaPathFinder):
    """Sets torch's threads right after ``import torch`` runs, wherever that happens."""

    def __init__(self, n: int):
        self.n = n

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "torch":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec("torch")
        if spec is None or spec.loader is None:
            return spec
        run, n = spec.loader.exec_module, self.n

        def exec_module(module):  # the loader keeps its type; only this instance runs one step more
            run(module)
            _torch_threads(module, n)

        spec.loader.exec_module = exec_module
        return spec


def machine_has_gpu(devices: str = "/dev") -> bool:
    """Whether this machine shows an NVIDIA GPU to its jobs (the driver's device files under ``devices``;
    torch is not imported, since the workflow calls this while it is parsed)."""
    if os.environ.get("CUDA_VISIBLE_DEVICES") in ("", "-1") or not os.path.isdir(devices):
        return False
    return any(re.fullmatch(r"nvidia\d+", name) for name in os.listdir(devices))


def expect_gpu(expected: bool) -> None:
    """Record whether the scheduler gave this job a GPU (its ``gpu`` resource)."""
    global _gpu_expected
    _gpu_expected = bool(expected)


def gpu_expected() -> bool:
    return _gpu_expected


def cuda_or_cpu(name: str, what: str) -> str:
    """'cuda' or 'cpu' for a device setting: 'auto', 'cpu' or 'cuda[:k]' (``what`` names the key).

    'auto' gives the CPU only where the job was not given a GPU: a job given one whose torch
    cannot use it (a driver older than torch's CUDA build, a CPU-only torch) stops with one
    line. 'cpu' is always honoured."""
    import torch
    if name == "cpu":
        return "cpu"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        available = torch.cuda.is_available()
    if available:
        return "cuda" if name == "auto" else name
    if name == "auto" and not _gpu_expected:
        return "cpu"
    asked = "the job was given a GPU (resource gpu)" if name == "auto" else f"'{name}' was requested"
    said = f"; torch says: {str(caught[0].message).splitlines()[0].strip()}" if caught else ""
    raise InputError(f"config key '{what}': {asked} but torch {torch.__version__} cannot use CUDA "
                     f"(built for CUDA {torch.version.cuda or 'none: a CPU-only build'}, {driver()}){said}; "
                     f"install a torch built for this driver (README, 'Install routes') or set '{what}: cpu'")


@functools.cache
def _nvidia_smi() -> tuple[list[tuple[str, str]], str]:
    """(name, driver version) of each GPU nvidia-smi lists, or none and why: one run per process serves
    ``driver`` and ``gpus`` (a job's GPUs do not change while it runs)."""
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
    """The NVIDIA driver version as nvidia-smi reports it, in words."""
    rows, why = _nvidia_smi()
    return f"NVIDIA driver {rows[0][1]}" if rows else why


def host(with_gpus: bool = True) -> str:
    """This machine in words: host name, CPU model and (``with_gpus``) the GPUs nvidia-smi lists."""
    import platform
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as fh:
            cpu = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), cpu)
    except OSError:
        pass
    return f"{platform.node()}, CPU {cpu} ({os.cpu_count()} logical)" + (f", {gpus()}" if with_gpus else "")


def gpus() -> str:
    """The GPUs nvidia-smi lists, or that there is none to list."""
    rows, why = _nvidia_smi()
    return "GPU " + "; ".join(", ".join(row) for row in rows) + " (name, driver)" if rows else f"no NVIDIA GPU ({why})"
