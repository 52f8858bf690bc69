"""Rule text_summary: every subject's caption scores per source (decoded, ceiling, chance) in one table."""
import pandas as pd

from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    table = pd.concat([pd.read_csv(path, sep="\t") for path in snakemake.input], ignore_index=True)
    table.to_csv(snakemake.output[0], sep="\t", index=False, float_format="%.4f")
    log.info("caption scores:\n%s", table.to_string(index=False))


job.run(main, snakemake)
