"""What a job may use of the machine: its declared threads, and glibc's allocator settings.

``sdbrain.workflow.job`` calls ``limit_threads`` with the job's threads before the script's ``main`` runs; the
Snakefile calls ``keep_freed_memory`` once, and every job inherits it. torch is never imported here.
"""
from __future__ import annotations

import importlib.abc
import importlib.util
import os
import sys
import warnings

# the variables that OpenMP, OpenBLAS, MKL, Accelerate and numexpr read when they load
THREAD_VARIABLES = ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "MKL_NUM_THREADS",
                    "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS")

# glibc's allocator, as every job starts: blocks up to 32 MB come from the heap, and up to 1 GB of freed heap is
# kept rather than handed back to the kernel. A CPU job allocates and frees its activations at every layer; by
# default glibc returns them and faults the pages in again at the next call (measured: the toy U-Net at batch 100
# about 8 % faster, the evaluation networks 6-11 %, the same values; benchmarks/RESULTS.md).
ALLOCATOR = {"MALLOC_MMAP_THRESHOLD_": str(32 * 2**20), "MALLOC_TRIM_THRESHOLD_": str(2**30)}


def keep_freed_memory() -> None:
    """Set ``ALLOCATOR`` for the processes started from here on (the workflow's jobs).

    Variables the environment sets already are kept (glibc reads them when a process starts).
    """
    for name, value in ALLOCATOR.items():
        os.environ.setdefault(name, value)


def limit_threads(n: int) -> None:
    """Make BLAS/OpenMP and torch (intra- and inter-op) use ``n`` threads in this process.

    Libraries not loaded yet read the environment; those already loaded (numpy's BLAS) are
    limited through threadpoolctl; torch is set now if imported, else when it is imported
    (torch is never imported here: table-only jobs would pay its start-up).
    """
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
