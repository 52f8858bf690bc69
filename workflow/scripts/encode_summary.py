"""Rule encode_summary: per streams ROI, mean r and significant share of each space, unique variance, best layers."""
import pandas as pd

from sdbrain.data import nsd
from sdbrain.linear import encode
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, out, subject = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.subject
    streams = nsd.read_volume(nsd.Layout(p.nsd_root).roi(subject, "streams")).ravel()

    def tables(names, paths):
        return {name: encode.with_roi(pd.read_csv(path, sep="\t"), streams) for name, path in zip(names, paths)}

    for table, path in ((encode.roi_summary(subject, tables(p.single, i.single)), out.single),
                        (encode.unique_summary(subject, tables(p.joint, i.joint)), out.unique),
                        (encode.layer_summary(subject, tables(p.groups, i.layers), p.layers), out.layers)):
        table.to_csv(path, sep="\t", index=False)
        log.info("%s\n%s", path, table.to_string(index=False))


job.run(main, snakemake)
