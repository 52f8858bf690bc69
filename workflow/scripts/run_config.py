"""Rule run_config: the run's validated configuration, for the report."""
import yaml

from sdbrain.errors import guarded
from sdbrain.logs import setup


def main():
    setup(snakemake.log[0])
    with open(snakemake.output[0], "w") as out:
        yaml.safe_dump(dict(snakemake.params.config), out, sort_keys=False)


guarded(main, snakemake)
