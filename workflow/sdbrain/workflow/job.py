"""Running a rule's script: what every job gets before and after its ``main``.

Each script under ``workflow/scripts`` ends with ``job.run(main, snakemake)``. Before ``main``: the job's stderr goes
to its log as well (``logs.capture``: warnings, progress bars and a bug's traceback included), it uses exactly its
declared threads (``hardware.limit_threads``), it says in ``machine.GPU_GIVEN`` whether it was given a GPU, and
fault injection may fail its first attempt (``faults``). A user error (``InputError``) then ends the job with its
one line and exit status 1; an argument error of the method layer is named by the config key that set the
argument. After ``main``, the process's objects are frozen for its exit.
"""
from __future__ import annotations

import gc
import os
import sys

from sdbrain import machine
from sdbrain.errors import ArgumentError, InputError
from sdbrain.workflow import faults, hardware, logs

# the hub libraries' switches that keep every model load local
OFFLINE = {"HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}


def prepare_environment() -> None:
    """Set what every job inherits from the Snakemake process, unless the environment sets it already.

    The Hugging Face libraries stay offline, and glibc keeps freed memory for the next layer's tensors
    (``hardware.ALLOCATOR``).
    """
    for name, value in OFFLINE.items():
        os.environ.setdefault(name, value)
    hardware.keep_freed_memory()


def config_key(error: ArgumentError, params, keys: dict[str, str] | None = None) -> str | None:
    """Find the config key that set the argument an ArgumentError names.

    Parameters
    ----------
    error : ArgumentError
        The method layer's error.
    params : mapping
        The job's params: a config section's keys are passed as one dict named as the section.
    keys : dict, optional
        Arguments set otherwise: argument -> config key.

    Returns
    -------
    str or None
        ``keys[argument]``, else ``section.argument`` for the one section that holds the argument, else None.
    """
    if keys and error.argument in keys:
        return keys[error.argument]
    sections = [name for name, value in params.items() if isinstance(value, dict) and error.argument in value]
    return f"{sections[0]}.{error.argument}" if len(sections) == 1 else None


def error_line(error: InputError, params=None, keys: dict[str, str] | None = None) -> str:
    """Return the one line a user error ends a job with: an argument error as the config key that set it."""
    if isinstance(error, ArgumentError):
        key = config_key(error, params or {}, keys)
        if key:
            return f"ERROR: config key '{key}': {error.message}"
    return f"ERROR: {error}"


def run(main, job, keys: dict[str, str] | None = None) -> None:
    """Run a rule's ``main()`` as a job of the workflow; on InputError print its one line and exit 1.

    Parameters
    ----------
    main : callable
        The script's work.
    job : snakemake.script.Snakemake
        The script's ``snakemake`` object (rule, log, threads, resources, params, output, config).
    keys : dict, optional
        Config keys of arguments that no params section holds (argument -> key), for error messages.
    """
    captured = bool(job.log)
    if captured:
        logs.capture(job.log[0])
    hardware.limit_threads(job.threads)
    gpus = int(job.resources.get("gpu", 0) or 0)
    os.environ[machine.GPU_GIVEN] = "1" if gpus > 0 else "0"
    print(f"rule {job.rule}: {job.threads} thread(s), gpu resource {gpus}, host {machine.host(with_gpus=gpus > 0)}",
          file=sys.stderr, flush=True)
    try:
        faults.injected_failure(job.rule, job.output, (job.config.get("fault_injection") or {}))
        main()
    except InputError as err:
        line = error_line(err, job.params, keys)
        if captured:  # fd 2 reaches the log and the terminal
            sys.stderr.flush()
            os.write(2, (line + "\n").encode())
        else:
            print(line, file=sys.stderr, flush=True)
        sys.exit(1)
    # A job's process ends here, and Python's last garbage collections walk every object that torch, diffusers and
    # transformers made on import: 1.3 s of a toy job's 10 (benchmarks/startup.py). Its outputs are closed by now;
    # the collections skip frozen objects.
    gc.freeze()
