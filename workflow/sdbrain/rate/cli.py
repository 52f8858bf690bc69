"""``sdbrain-rate``: run a rating session.

Usage:

```text
sdbrain-rate add-rater NAME --trials T --db D      a rater and their personal link
sdbrain-rate serve --trials T --db D [--host H --port P]
sdbrain-rate export --trials T --db D --out answers.tsv
sdbrain-rate simulate --trials T --db D --raters 6 --error-rate 0.1 --seed 0
```
"""
from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

import numpy as np
import pandas as pd

from sdbrain.data.io import atomic_file
from sdbrain.errors import InputError
from sdbrain.rate import db, simulate
from sdbrain.rate.trials import TrialSet
from sdbrain.workflow import paths

EXPORT_COLUMNS = ["rater", "source", "trial", "subject", "method", "nsd_id", "sample", "foil_nsd_id", "foil_sample",
                  "target", "choice", "correct", "rt_ms", "answered_at"]


def open_session(args, create: bool = False, read_only: bool = False):
    """Read the trial set ``args.trials`` and open its database ``args.db`` (made first with ``create``).

    Returns the TrialSet and the SQLite connection, ``read_only`` for the commands that only read (an
    archived session on a read-only mount can be listed and exported); the database is refused (InputError)
    where it is missing without ``create``, not SQLite, of another trial set or of another per-rater count.
    """
    trials = TrialSet(args.trials)
    if read_only:
        return trials, db.open_read_only(args.db, trials.sha256, trials.per_rater, trials.session)
    return trials, db.connect(args.db, trials.sha256, trials.per_rater, create=create, session_file=trials.session)


def link(args, token: str) -> str:
    """Return a rater's personal link: the rating page of ``token`` on ``args.host``:``args.port``."""
    return f"http://{args.host}:{args.port}/r/{token}"


def cmd_add_rater(args) -> None:
    """Add the rater ``args.name`` with their trials (``TrialSet.assignment``); print their trial count and link."""
    trials, con = open_session(args, create=True)
    token = db.add_rater(con, args.name, trials.assignment)
    print(f"{args.name}: {len(db.assigned(con, db.rater_by_token(con, token)[0]))} trials, link {link(args, token)}")


def cmd_raters(args) -> None:
    """Print one line per rater: name, answered/assigned trials, source (human or simulated) and link."""
    _, con = open_session(args, read_only=True)
    for rater_id, name, token, source in db.raters(con):
        print(f"{name}\t{len(db.answered(con, rater_id))}/{len(db.assigned(con, rater_id))}\t{source}\t{link(args, token)}")


def cmd_serve(args) -> None:
    """Run the rating app with uvicorn on ``args.host``:``args.port`` until stopped (Ctrl-C)."""
    import uvicorn

    from sdbrain.rate.app import create_app
    trials, con = open_session(args)
    print(f"serving {len(trials.table)} trials on http://{args.host}:{args.port}/r/TOKEN (Ctrl-C stops)", flush=True)
    uvicorn.run(create_app(trials, con), host=args.host, port=args.port, log_level=args.log_level)
    con.close()


def export_table(trials: TrialSet, con) -> pd.DataFrame:
    """Every stored answer with its trial and whether it chose the reconstruction of the original's own brain activity."""
    rows = pd.DataFrame(db.all_answers(con), columns=["rater", "source", "trial", "choice", "rt_ms", "answered_at"])
    table = rows.merge(trials.table.reset_index(drop=True), on="trial", how="left")
    table["correct"] = (table["choice"] == table["target"]).astype(int)
    table["rt_ms"] = table["rt_ms"].astype("Int64")
    return table[EXPORT_COLUMNS]


def cmd_export(args) -> None:
    """Write every answer (``export_table``) as TSV to ``args.out``, atomically."""
    trials, con = open_session(args, read_only=True)
    table = export_table(trials, con)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out) as partial:  # never a half-written answers file
        table.to_csv(partial, sep="\t", index=False)
    print(f"{len(table)} answers of {table['rater'].nunique()} raters -> {out}")


def cmd_simulate(args) -> None:
    """Add ``args.raters`` simulated raters who answer all their trials by the rule of ``sdbrain.rate.simulate``.

    Each rater flips the rule's choice with probability ``args.error_rate`` (seeded by ``args.seed`` and the
    rater's number) and is stored with the rule as its source, so the outputs mark them as simulated.
    """
    if not 0 <= args.error_rate <= 1:
        raise InputError(f"--error-rate: expected a probability between 0 and 1, got {args.error_rate}")
    trials, con = open_session(args, create=True)
    source = simulate.source(args.error_rate)
    for k in range(args.raters):
        name = f"{args.prefix}{k + 1:02d}"
        token = db.add_rater(con, name, trials.assignment, source=source)
        rater_id = db.rater_by_token(con, token)[0]
        ids = db.assigned(con, rater_id)
        rng = np.random.default_rng([args.seed, k])
        for trial, choice in zip(ids, simulate.answers(trials, ids, args.error_rate, rng)):
            db.record(con, rater_id, trial, choice, None)
        print(f"{name}: {len(ids)} simulated answers, expected accuracy "
              f"{simulate.expected_accuracy(trials, ids, args.error_rate):.3f} ({source})")


def parser() -> argparse.ArgumentParser:
    """Build the argument parser of ``sdbrain-rate``: one subcommand per ``cmd_*`` function."""
    top = argparse.ArgumentParser(prog="sdbrain-rate", description="Human two-way identification of reconstructions.")
    sub = top.add_subparsers(dest="command", required=True)

    def command(name, func, help):
        p = sub.add_parser(name, help=help)
        p.add_argument("--trials", default=paths.RATE_TRIALS, help="trials file (rule rate_trials)")
        p.add_argument("--db", default=paths.RATE_DATABASE, help="SQLite database of raters and answers")
        p.add_argument("--host", default="127.0.0.1", help="address to bind and to print in links (default: 127.0.0.1)")
        p.add_argument("--port", type=int, default=8765)
        p.set_defaults(func=func)
        return p

    command("add-rater", cmd_add_rater, "add a rater; prints their personal link").add_argument("name")
    command("raters", cmd_raters, "list raters, their progress and links")
    serve = command("serve", cmd_serve, "run the rating app")
    serve.add_argument("--log-level", default="warning")
    command("export", cmd_export, "write every answer as TSV").add_argument(
        "--out", default=paths.RATE_ANSWERS)
    sim = command("simulate", cmd_simulate, "add raters answering by a stated rule (toy world; marked simulated)")
    sim.add_argument("--raters", type=int, default=6)
    sim.add_argument("--error-rate", type=float, default=0.1)
    sim.add_argument("--seed", type=int, default=0)
    sim.add_argument("--prefix", default="sim")
    return top


def main(argv=None) -> None:
    """Run ``sdbrain-rate``; an InputError ends it with one line on stderr and exit status 1."""
    args = parser().parse_args(argv)
    try:
        args.func(args)
    except InputError as err:
        print(f"ERROR: {err}", file=sys.stderr)
        sys.exit(1)
    except sqlite3.Error as err:  # e.g. a full disk or a database locked past the timeout
        print(f"ERROR: {args.db}: {err}", file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
