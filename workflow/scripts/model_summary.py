"""Rule model_summary: load the SD pipeline offline, as every later stage does, and describe it."""
from sdbrain.sd.pipeline import load_pipeline, summary
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    model_dir = snakemake.params.model_dir
    table = summary(load_pipeline(model_dir))
    log.info("model %s:\n%s", model_dir, table.to_string(index=False))
    table.to_csv(snakemake.output[0], sep="\t", index=False)


job.run(main, snakemake)
