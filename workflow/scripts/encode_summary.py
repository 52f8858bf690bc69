"""Rule encode_summary: mean r and share of significant voxels per streams ROI and feature space."""
import numpy as np
import pandas as pd

from sdbrain import nsd
from sdbrain.errors import guarded
from sdbrain.logs import setup

STREAMS = {0: "unlabelled", 1: "early", 2: "midventral", 3: "midlateral", 4: "midparietal", 5: "ventral",
           6: "lateral", 7: "parietal"}


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    labels = nsd.read_volume(nsd.Layout(p.nsd_root).roi(snakemake.wildcards.subject, "streams")).ravel()
    rows = []
    for space, path in zip(p.spaces, snakemake.input):
        table = pd.read_csv(path, sep="\t")
        table["roi"] = [STREAMS.get(int(v), str(v)) for v in labels[table["voxel"].to_numpy()]]
        for roi, part in table.groupby("roi"):
            rows.append({"subject": snakemake.wildcards.subject, "space": space, "roi": roi, "voxels": len(part),
                         "mean_r": part["r"].mean(), "significant_fraction": part["significant"].mean()})
    summary = pd.DataFrame(rows)
    summary.to_csv(snakemake.output[0], sep="\t", index=False)
    log.info("\n%s", summary.to_string(index=False))


guarded(main, snakemake.log[0])
