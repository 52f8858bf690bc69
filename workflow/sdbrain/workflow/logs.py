"""A job's log: everything the process writes to stderr, and a logger that writes there.

``capture`` (called by ``job.run`` for every Snakemake job) points file descriptor 2
at a ``tee`` into the rule's log, so that Python's writes (logging, warnings, tqdm,
tracebacks) and C libraries' writes (torch, BLAS, HDF5, faulthandler on a crash) land in
the log as they happen and still reach the terminal or the SLURM output file. ``tee`` is
a process of its own, so even a crash leaves the log complete.
"""
from __future__ import annotations

import atexit
import faulthandler
import logging
import os
import shutil
import subprocess
import sys
from pathlib import Path

_captured: dict = {}


def capture(log_path: str | Path) -> None:
    """From now on, send this process's stderr (fd 2) to ``log_path`` (emptied first) as well."""
    if _captured:
        raise RuntimeError(f"stderr is already captured into {_captured['path']}")
    path = Path(log_path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("")  # each attempt's log starts empty
    sys.stderr.flush()
    saved = os.dup(2)
    tee = shutil.which("tee")
    process = None
    if tee:
        # -i: Ctrl-C stops the job, not its log; -a: lines written to the log directly stay
        process = subprocess.Popen([tee, "-i", "-a", str(path)], stdin=subprocess.PIPE, stdout=saved)
        os.dup2(process.stdin.fileno(), 2)
        process.stdin.close()  # fd 2 is now the pipe's only write end: closing it ends tee
    else:  # no tee: the log alone
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        os.dup2(fd, 2)
        os.close(fd)
    _captured.update(path=path.resolve(), saved=saved, process=process)
    faulthandler.enable(file=2)  # a segfault's Python stack
    atexit.register(release)


def release() -> None:
    """Give fd 2 back and wait until ``tee`` has written everything (at exit, or in tests)."""
    if not _captured:
        return
    sys.stderr.flush()
    faulthandler.disable()
    os.dup2(_captured["saved"], 2)
    os.close(_captured["saved"])
    if _captured["process"] is not None:
        try:  # a child process still holding the pipe keeps tee open: do not wait for it forever
            _captured["process"].wait(timeout=30)
        except subprocess.TimeoutExpired:
            pass
    _captured.clear()


def captured_path() -> Path | None:
    """Return the (resolved) log that ``capture`` sends stderr to, or None where stderr is not captured."""
    return _captured.get("path")


def setup(log_path: str | Path | None, name: str = "sdbrain") -> logging.Logger:
    """Set up a logger to stderr and, unless stderr already goes there (``capture``), to ``log_path``."""
    logger = logging.getLogger(name)
    logger.setLevel(logging.INFO)
    logger.handlers.clear()
    fmt = logging.Formatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%d %H:%M:%S")
    handlers = [logging.StreamHandler(sys.stderr)]
    if log_path and Path(log_path).resolve() != captured_path():
        Path(log_path).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_path, mode="w"))
    for h in handlers:
        h.setFormatter(fmt)
        logger.addHandler(h)
    return logger
