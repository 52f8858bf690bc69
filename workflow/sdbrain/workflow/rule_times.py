"""Per-rule wall and CPU time of a run, from its jobs' benchmark files.

Every rule writes a Snakemake benchmark file (``benchmark:``, under logs/benchmarks/);
the run's own logs (.snakemake/log/) say which rule wrote which file. ``markdown`` gives a
table per rule: jobs, summed wall time, summed CPU time (user + system of the job's process
tree), and the largest single job; with ``before``, the same columns of another run side by
side and the ratio of summed wall times. Rule ``run_logs`` puts the table in the report;
``benchmarks/rule_times.py`` prints it for any working directory.
"""
from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from sdbrain.errors import InputError


def rule_of_benchmark(workdir: Path) -> dict[str, str]:
    """{benchmark path: rule} from every Snakemake log of the run."""
    owners = {}
    for log in sorted((workdir / ".snakemake/log").glob("*.snakemake.log")):
        rule = None
        for line in log.read_text().splitlines():
            if m := re.match(r"^(?:local)?rule (\S+):$", line.strip()):
                rule = m.group(1)
            elif (m := re.match(r"^benchmark: (\S+)$", line.strip())) and rule:
                owners[m.group(1)] = rule
    return owners


def jobs(workdir: Path) -> pd.DataFrame:
    """One row per job: rule, wall seconds, CPU seconds."""
    rows = []
    for name, rule in sorted(rule_of_benchmark(workdir).items()):
        path = workdir / name
        if path.exists():  # a job that never finished has none
            bench = pd.read_csv(path, sep="\t").iloc[-1]
            rows.append({"rule": rule, "job": name, "wall": float(bench["s"]), "cpu": float(bench["cpu_time"])})
    if not rows:
        raise InputError(f"{workdir}: no benchmark file named by its Snakemake logs (.snakemake/log/)")
    return pd.DataFrame(rows)


def per_rule(table: pd.DataFrame) -> pd.DataFrame:
    """Sum ``jobs``' table per rule: jobs, wall, cpu (seconds, summed) and the longest job; longest wall first."""
    grouped = table.groupby("rule")
    return pd.DataFrame({"jobs": grouped.size(), "wall": grouped["wall"].sum(), "cpu": grouped["cpu"].sum(),
                         "longest": grouped["wall"].max()}).sort_values("wall", ascending=False)


def markdown(after: pd.DataFrame, before: pd.DataFrame | None) -> str:
    """Write ``per_rule`` tables in Markdown: one run with a total row, or ``before`` and ``after`` side by side.

    Side by side, each rule's jobs, wall and CPU time of both runs and the ratio of summed wall times
    ('new' for a rule the earlier run lacks), with a row summed over rules.
    """
    if before is None:
        lines = ["| rule | jobs | wall (s, summed) | CPU (s, summed) | longest job (s) |", "|---|---|---|---|---|"]
        for rule, r in after.iterrows():
            lines.append(f"| {rule} | {int(r.jobs)} | {r.wall:.1f} | {r.cpu:.1f} | {r.longest:.1f} |")
        lines.append(f"| all rules | {after.jobs.sum()} | {after.wall.sum():.1f} | {after.cpu.sum():.1f} | |")
        return "\n".join(lines)
    both = before.add_suffix("_before").join(after.add_suffix("_after"), how="outer").fillna(0)
    both = both.sort_values("wall_before", ascending=False)
    lines = ["| rule | jobs before | jobs after | wall before (s) | wall after (s) | CPU before (s) | CPU after (s) "
             "| after / before (wall) |", "|---|---|---|---|---|---|---|---|"]

    def row(name, r):
        ratio = f"{r.wall_after / r.wall_before:.2f}" if r.wall_before else "new"
        return (f"| {name} | {int(r.jobs_before)} | {int(r.jobs_after)} | {r.wall_before:.1f} | {r.wall_after:.1f} "
                f"| {r.cpu_before:.1f} | {r.cpu_after:.1f} | {ratio} |")

    lines += [row(rule, r) for rule, r in both.iterrows()]
    lines.append(row("all rules (summed)", both.sum()))
    return "\n".join(lines)
