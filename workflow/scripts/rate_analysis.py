"""Rule rate_analysis: the raters' identification accuracy, intervals, tests and agreement."""
import pandas as pd

from sdbrain.rate import analysis
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    out = snakemake.output
    answers = analysis.read_answers(snakemake.input.answers)
    analysis.check_trials(answers, pd.read_csv(snakemake.input.trials, sep="\t"), snakemake.input.answers)
    table, agree = analysis.accuracy(answers), analysis.agreement(answers)
    note = analysis.simulated_note(answers)
    table["note"] = note
    table.to_csv(out.accuracy, sep="\t", index=False)
    agree.to_csv(out.agreement, sep="\t", index=False)
    with open(out.markdown, "w") as fh:
        fh.write(analysis.markdown(table, agree, note))
    log.info("subjective identification%s:\n%s", f" ({note})" if note else "",
             table[table["rater"] == analysis.MEAN].to_string(index=False))


job.run(main, snakemake)
