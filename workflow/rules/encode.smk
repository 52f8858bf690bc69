# Encoding models: whole-brain voxel-wise ridge from each feature space, scored per
# voxel on the test set, with p-values, BH-FDR masks, NIfTI maps and ROI summaries.


rule encode:
    input:
        nsd_tree(),
        train="results/fmri/{subject}/train_brain.npy",
        test="results/fmri/{subject}/test_brain.npy",
        voxels="results/fmri/{subject}/voxels_brain.tsv",
        train_ids="results/fmri/{subject}/train_ids.tsv",
        test_ids="results/fmri/{subject}/test_ids.tsv",
        features="results/features/{space}.npy",
        feature_ids="results/features/{space}_ids.tsv",
    output:
        r="results/encode/{subject}/{space}/r.nii.gz",
        p="results/encode/{subject}/{space}/p.nii.gz",
        fdr="results/encode/{subject}/{space}/fdr_mask.nii.gz",
        table="results/encode/{subject}/{space}/voxels.tsv",
        pca="results/encode/{subject}/{space}/pca_explained_variance.tsv",
        png="results/encode/{subject}/{space}/r_slices.png",
    wildcard_constraints:
        space=METHOD_PATTERN,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        encode=config["encode"],
    log:
        "logs/encode/{subject}_{space}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=64000,
        runtime=240,
    script:
        "../scripts/encode.py"


rule encode_summary:
    input:
        expand("results/encode/{{subject}}/{space}/voxels.tsv", space=ENCODE_SPACES),
    output:
        "results/encode/{subject}/roi_summary.tsv",
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        spaces=ENCODE_SPACES,
    log:
        "logs/encode/{subject}_summary.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/encode_summary.py"
