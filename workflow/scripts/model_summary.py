"""Rule model_summary: load the SD pipeline offline, as every later stage does, and describe it."""
from sdbrain.errors import guarded
from sdbrain.logs import setup
from sdbrain.sd import load_pipeline, summary


def main():
    log = setup(snakemake.log[0])
    table = summary(load_pipeline(snakemake.input[0]))
    log.info("model %s:\n%s", snakemake.input[0], table.to_string(index=False))
    table.to_csv(snakemake.output[0], sep="\t", index=False)


guarded(main, snakemake.log[0])
