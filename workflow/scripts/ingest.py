"""Rule ingest: per-ROI train/test matrices of one subject, one session in memory at a time."""
from sdbrain.data import nsd
from sdbrain.data.ingest import RoiLabels, ingest_subject
from sdbrain.data.io import read_ids
from sdbrain.workflow import job, paths
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    subject = snakemake.wildcards.subject
    outdir = paths.fmri(subject)  # the subject's folder, where sdbrain.data.ingest writes its files
    rois = {name: RoiLabels(spec["file"], spec["labels"]) for name, spec in p.rois.items()}
    report = ingest_subject(nsd.Layout(p.nsd_root), subject, p.sessions, rois, read_ids(snakemake.input.test_ids),
                            outdir, zscore=p.ingest["zscore_sessions"], scale=p.ingest["beta_scale"],
                            block=p.ingest["block_trials"])
    for row in report.itertuples():
        excluded = row.excluded_nonfinite + row.excluded_constant
        log.info("%s %s: %d voxels (%d excluded: %d non-finite, %d constant), %d train trials, %d test images",
                 subject, row.roi, row.voxels, excluded, row.excluded_nonfinite, row.excluded_constant,
                 row.train_trials, row.test_images)
        if excluded:
            log.warning("%s %s: %d voxels excluded; see voxels_%s.tsv (valid = 0)", subject, row.roi, excluded, row.roi)
    report.to_csv(paths.ingest_report(subject), sep="\t", index=False)


job.run(main, snakemake)
