"""Rule run_logs: every job's log in one text file (path order), and the time per rule, for the report."""
from pathlib import Path

from sdbrain.workflow import job, rule_times
from sdbrain.workflow.logs import setup


def main():
    own = Path(snakemake.log[0]).resolve()
    setup(snakemake.log[0])
    paths = sorted(p for p in Path(snakemake.params.logs).rglob("*.log") if p.resolve() != own)
    with open(snakemake.output.logs, "w") as out:
        for path in paths:
            out.write(f"===== {path} =====\n{path.read_text(errors='replace').rstrip()}\n\n")
    table = rule_times.markdown(rule_times.per_rule(rule_times.jobs(Path("."))), None)
    Path(snakemake.output.rule_times).write_text(f"# Time per rule\n\n{table}\n")


job.run(main, snakemake)
