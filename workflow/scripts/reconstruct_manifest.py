"""Rule reconstruct_manifest: one table of every reconstruction of a subject and method."""
from pathlib import Path

import pandas as pd

from sdbrain.reconstruction import reconstruct
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    rows = []
    for folder in snakemake.input:
        for png in sorted(Path(folder).glob("*.png")):
            nsd_id, sample = reconstruct.parse_png_name(png.name)
            rows.append({"nsd_id": nsd_id, "sample": sample, "path": str(png)})
    table = pd.DataFrame(rows).sort_values(["nsd_id", "sample"])
    table.to_csv(snakemake.output[0], sep="\t", index=False)
    log.info("%d reconstructions of %d images", len(table), table["nsd_id"].nunique())


job.run(main, snakemake)
