"""Per-rule wall and CPU time of a finished run, from its benchmark files.

    python benchmarks/rule_times.py WORKDIR [--before OTHER_WORKDIR]

Prints the Markdown table of ``sdbrain.workflow.rule_times`` (the report's, from rule run_logs), with
``--before`` another run's columns beside it and the ratio of summed wall times.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))

from sdbrain.errors import InputError  # noqa: E402
from sdbrain.workflow.rule_times import jobs, markdown, per_rule  # noqa: E402, F401 -- suite.py uses these names


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workdir", type=Path)
    parser.add_argument("--before", type=Path, help="another run's working directory, shown beside it")
    args = parser.parse_args()
    try:
        before = per_rule(jobs(args.before)) if args.before else None
        print(markdown(per_rule(jobs(args.workdir)), before))
    except InputError as err:
        sys.exit(f"ERROR: {err}")


if __name__ == "__main__":
    main()
