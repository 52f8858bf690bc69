"""Rule ingest: per-ROI train/test matrices of one subject, one session in memory at a time."""
from pathlib import Path

from sdbrain.data import nsd
from sdbrain.data.ingest import ingest_subject
from sdbrain.data.io import read_ids
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    subject = snakemake.wildcards.subject
    outdir = Path(snakemake.output[0]).parent
    report = ingest_subject(nsd.Layout(p.nsd_root), subject, p.sessions, p.rois, read_ids(snakemake.input.test_ids),
                            outdir, zscore=p.ingest["zscore_sessions"], scale=p.ingest["beta_scale"],
                            block=p.ingest["block_trials"])
    for row in report.itertuples():
        excluded = row.excluded_nonfinite + row.excluded_constant
        log.info("%s %s: %d voxels (%d excluded: %d non-finite, %d constant), %d train trials, %d test images",
                 subject, row.roi, row.voxels, excluded, row.excluded_nonfinite, row.excluded_constant,
                 row.train_trials, row.test_images)
        if excluded:
            log.warning("%s %s: %d voxels excluded; see voxels_%s.tsv (valid = 0)", subject, row.roi, excluded, row.roi)
    report.to_csv(outdir / "ingest_report.tsv", sep="\t", index=False)


job.run(main, snakemake)
