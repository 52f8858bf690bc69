# NSD ingestion: a pre-flight check of every file the run needs and the train/test
# split (all subjects), then per-subject ROI matrices.


rule split:
    input:
        nsd_tree(),
    output:
        test_ids=paths.TEST_IDS,
        inventory=paths.INVENTORY,
    log:
        "logs/fmri/split.log",
    benchmark:
        "logs/benchmarks/fmri/split.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        # NSD itself is not an input (it is read in place, and checked by the script)
        nsd_root=lambda wildcards: config["nsd_root"],
        subjects=SUBJECTS,
        sessions=config["sessions"],
        roi_files=roi_files(),
    script:
        "../scripts/split.py"


rule ingest:
    input:
        test_ids=paths.TEST_IDS,
    output:
        ingest_outputs("{subject}"),
    log:
        "logs/fmri/ingest_{subject}.log",
    benchmark:
        "logs/benchmarks/fmri/ingest_{subject}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        # one session of masked voxels in memory; full NSD volumes are ~1 GB int16 per session
        mem_mb=8000,
        runtime=120,
    params:
        nsd_root=config["nsd_root"],
        sessions=config["sessions"],
        rois=config["rois"],
        ingest=config["ingest"],
    script:
        "../scripts/ingest.py"
