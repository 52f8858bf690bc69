"""Rule validity_summary: every subject's validity tables in one, the report's statement, the figure."""
from pathlib import Path

import pandas as pd

from sdbrain.evaluation import controls
from sdbrain.evaluation import validity_tables as vt
from sdbrain.maps import figures
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def gather(paths) -> pd.DataFrame:
    """The subjects' tables with a subject column (the folder's name)."""
    return pd.concat([pd.read_csv(path, sep="\t").assign(subject=Path(path).parent.name) for path in paths],
                     ignore_index=True)


def main():
    log = setup(snakemake.log[0])
    inp, out = snakemake.input, snakemake.output
    summary, collapse, tests = gather(inp.summary), gather(inp.collapse), gather(inp.tests)
    summary.to_csv(out.summary, sep="\t", index=False)
    text = vt.statements(summary, tests, snakemake.params.feature)
    Path(out.markdown).write_text(text + "\n")
    figures.validity_panels(summary, collapse, out.figure, controls.CONTROLS, snakemake.params.model_note)
    log.info("%s", text)


job.run(main, snakemake)
