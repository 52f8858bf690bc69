"""Rule run_config: the run's validated configuration and its provenance, for the report."""
import yaml

from sdbrain.workflow import job, provenance
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    with open(snakemake.output.config, "w") as out:
        yaml.safe_dump(dict(snakemake.params.config), out, sort_keys=False)
    record = provenance.record(snakemake.params.workflow_dir)
    with open(snakemake.output.provenance, "w") as out:
        yaml.safe_dump(record, out, sort_keys=False)
    log.info("workflow %s on %s", record["workflow_commit"], record["machine"])


job.run(main, snakemake)
