"""Rule eval_summary: the identification table of all subjects and methods, the community table, Fig. 5."""
import pandas as pd

from sdbrain.evaluation import summary as tables
from sdbrain.maps import figures
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    out = snakemake.output
    scores = pd.concat([pd.read_csv(path, sep="\t") for path in snakemake.input.scores], ignore_index=True)
    scores.to_csv(out.scores, sep="\t", index=False)
    summary = tables.summarise(scores)
    summary.to_csv(out.summary, sep="\t", index=False)
    random = sorted({n for cell in scores["random_weights"].dropna() for n in str(cell).split(",") if n})
    note = (f"networks with seeded random weights: {', '.join(random)}; scores test the code path, not the method"
            if random else "")
    table = tables.community_table(summary, snakemake.params.method)
    table.to_csv(out.table, sep="\t", index=False)
    with open(out.markdown, "w") as fh:
        fh.write(tables.markdown(table, note))
    subjective = pd.read_csv(snakemake.input.subjective[0], sep="\t") if snakemake.input.subjective else None
    figures.identification_bars(summary, out.fig5, "; ".join(filter(None, [note, snakemake.params.model_note])),
                                subjective)
    log.info("identification summary:\n%s", summary.to_string(index=False))


job.run(main, snakemake)
