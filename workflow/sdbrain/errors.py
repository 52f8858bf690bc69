"""One-sentence errors for users, and the guard that turns them into a clean exit.

A user error (bad config, missing or malformed file) is an ``InputError``: its
message is one sentence naming the file or key. Scripts run under ``guarded`` so
that such an error prints that sentence, and nothing else, and exits non-zero.
Any other exception is a bug and keeps its traceback.
"""
from __future__ import annotations

import sys
from pathlib import Path


class InputError(Exception):
    """Bad input from the user: the message names the file or key and what was expected."""


def problems_error(what: str, problems: list[str]) -> InputError:
    """One InputError that lists every problem found, on one line."""
    n = len(problems)
    return InputError(f"{what}: {n} problem{'s' if n != 1 else ''}: " + "; ".join(problems))


def guarded(main, log: str | Path | None = None) -> None:
    """Run ``main()``; on InputError print its one line to stderr (and the log) and exit 1."""
    try:
        main()
    except InputError as err:
        line = f"ERROR: {err}"
        if log:
            with open(log, "a") as fh:
                fh.write(line + "\n")
        print(line, file=sys.__stderr__, flush=True)
        sys.exit(1)
