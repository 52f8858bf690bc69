"""Rule run_logs: every job's log in one text file (path order), for the report."""
from pathlib import Path

from sdbrain.errors import guarded
from sdbrain.logs import setup


def main():
    own = Path(snakemake.log[0]).resolve()
    setup(snakemake.log[0])
    paths = sorted(p for p in Path(snakemake.params.logs).rglob("*.log") if p.resolve() != own)
    with open(snakemake.output[0], "w") as out:
        for path in paths:
            out.write(f"===== {path} =====\n{path.read_text(errors='replace').rstrip()}\n\n")


guarded(main, snakemake)
