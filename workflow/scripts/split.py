"""Rule split: check every NSD file the run needs, then fix the test set (shared images seen by all)."""
from sdbrain.data import nsd
from sdbrain.data.io import write_ids
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    layout = nsd.Layout(p.nsd_root)
    nsd.check_tree(layout, p.subjects, p.sessions, p.roi_files)
    inventory = nsd.inventory(layout, p.subjects, p.sessions)
    test = nsd.test_ids(layout, p.subjects, p.sessions)
    shared = nsd.read_sharedix(layout.expdesign)
    log.info("test set: %d of %d shared images seen by all of %s in sessions %s",
             len(test), len(shared), p.subjects, p.sessions)
    inventory.to_csv(snakemake.output.inventory, sep="\t", index=False)
    write_ids(snakemake.output.test_ids, test)


job.run(main, snakemake)
