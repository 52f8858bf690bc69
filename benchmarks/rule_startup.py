"""Start-up of each rule's job: the seconds a fresh Python process takes to import what the rule's script imports,
for this checkout and, with ``--before``, another one (e.g. a git worktree of an earlier commit), measured in turns.

    python benchmarks/rule_startup.py [--before PATH] [--repeats 5]

A local job runs its script in a fresh process, so its imports are paid once per job; what the script does after is
its work. Each cell is the median over the repeats, less the median of a bare ``python -c pass``. Also: the parse of
the Snakefile (``snakemake --dry-run`` of the default config from an empty folder), which every start of Snakemake
and, on a cluster, every job pays. Prints a Markdown table. Run it alone on the machine.
"""
from __future__ import annotations

import argparse
import ast
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
# rules that only read, gather or summarise tables (no network): tests/test_jobs.py checks they import no torch
TABLE_RULES = {"split", "stimuli", "features_merge", "reconstruct_manifest", "eval_summary", "validity_controls",
               "validity", "validity_summary", "encode_summary", "encode_compare", "run_config", "run_logs",
               "rate_trials", "rate_analysis"}


def script_imports(script: Path) -> str:
    """The import statements at the top level of a rule's script."""
    tree = ast.parse(script.read_text())
    return "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))


def seconds(args: list[str], root: Path, cwd: str | None = None) -> float:
    """Wall seconds of a fresh process with ``root``'s package first on the path."""
    env = {**os.environ, "PYTHONPATH": str(root / "workflow")}
    start = time.perf_counter()
    subprocess.run(args, env=env, cwd=cwd, check=True, capture_output=True)
    return time.perf_counter() - start


def dry_run(root: Path) -> float:
    with tempfile.TemporaryDirectory() as empty:
        return seconds([sys.executable, "-m", "snakemake", "--snakefile", str(root / "Snakefile"), "--directory", empty,
                        "-n", "--quiet"], root, cwd=empty)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, help="another checkout, measured in turn with this one")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    roots = {"after": ROOT, **({"before": args.before.resolve()} if args.before else {})}
    rules = sorted(p.stem for p in (ROOT / "workflow/scripts").glob("*.py"))
    times = {name: {} for name in roots}
    for _ in range(args.repeats):  # the checkouts in turns, so that a slow spell of the machine hits both
        for name, root in roots.items():
            times[name].setdefault("(python alone)", []).append(seconds([sys.executable, "-c", "pass"], root))
            times[name].setdefault("(Snakefile parse: dry run)", []).append(dry_run(root))
            for rule in rules:
                script = root / "workflow/scripts" / f"{rule}.py"
                if script.exists():
                    times[name].setdefault(rule, []).append(
                        seconds([sys.executable, "-c", script_imports(script)], root))
    median = {name: {k: statistics.median(v) for k, v in t.items()} for name, t in times.items()}
    columns = [n for n in ("before", "after") if n in roots]
    print("| rule | table-only | " + " | ".join(f"{c} (s)" for c in columns) + (" | ratio |" if args.before else " |"))
    print("|---|---|" + "---|" * len(columns) + ("---|" if args.before else ""))
    for row in ["(python alone)", "(Snakefile parse: dry run)", *rules]:
        cells = []
        for c in columns:
            value = median[c].get(row)
            if value is not None and not row.startswith("(python"):
                value -= 0 if row.startswith("(Snakefile") else median[c]["(python alone)"]
            cells.append("" if value is None else f"{value:.2f}")
        ratio = ""
        if args.before and all(median[c].get(row) for c in columns):
            ratio = f"{float(cells[1]) / float(cells[0]):.2f}" if float(cells[0]) > 0 else ""
        print(f"| {row} | {'yes' if row in TABLE_RULES else ''} | " + " | ".join(cells)
              + (f" | {ratio} |" if args.before else " |"))


if __name__ == "__main__":
    main()
