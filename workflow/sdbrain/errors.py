"""One-sentence errors for users, and the guard that turns them into a clean exit.

A user error (bad config, missing or malformed file) is an ``InputError``: its
message is one sentence naming the file or key. Scripts run under ``guarded`` so
that such an error prints that sentence, and nothing else, and exits non-zero.
Any other exception is a bug and keeps its traceback (in the rule's log too).
Fault injection for the retry tests is ``sdbrain.faults``.
"""
from __future__ import annotations

import gc
import os
import sys
from pathlib import Path


class InputError(Exception):
    """Bad input from the user: the message names the file or key and what was expected."""


def problems_error(what: str, problems: list[str]) -> InputError:
    """One InputError that lists every problem found, on one line."""
    n = len(problems)
    return InputError(f"{what}: {n} problem{'s' if n != 1 else ''}: " + "; ".join(problems))


def guarded(main, job=None) -> None:
    """Run ``main()``; on InputError print its one line to stderr (and the log) and exit 1.

    ``job`` is the script's ``snakemake`` object (or just a log path). For a Snakemake job,
    first: its stderr goes to its log as well (``logs.capture``: warnings, progress bars and
    a bug's traceback included), it uses exactly its declared threads, and it records
    whether it was given a GPU (``hardware``).
    """
    log = job.log[0] if hasattr(job, "log") and job.log else job if isinstance(job, (str, Path)) else None
    captured = False
    snakemake_job = hasattr(job, "rule")
    if snakemake_job:
        from . import faults, hardware, logs
        if log:
            logs.capture(log)
            captured = True
        hardware.limit_threads(job.threads)
        gpus = int(job.resources.get("gpu", 0) or 0)
        hardware.expect_gpu(gpus > 0)
        print(f"rule {job.rule}: {job.threads} thread(s), gpu resource {gpus}, host {hardware.host(with_gpus=gpus > 0)}",
              file=sys.stderr, flush=True)
    try:
        if snakemake_job:
            faults.injected_failure(job)
        main()
    except InputError as err:
        line = f"ERROR: {err}"
        if captured:  # fd 2 reaches the log and the terminal
            sys.stderr.flush()
            os.write(2, (line + "\n").encode())
        else:
            if log:
                with open(log, "a") as fh:
                    fh.write(line + "\n")
            print(line, file=sys.__stderr__, flush=True)
        sys.exit(1)
    if snakemake_job:
        # A job's process ends here, and Python's last garbage collections walk every object
        # that torch, diffusers and transformers made on import: 1.3 s of a toy job's 10
        # (benchmarks/startup.py). Its outputs are closed by now; the collections skip frozen objects.
        gc.freeze()

