# Encoding models: whole-brain voxel-wise ridge from each feature space, scored per
# voxel on the test set, with p-values, BH-FDR masks, NIfTI maps and ROI summaries;
# joint z + z_c models for unique variance (Figs. 7-8), concatenated and (encode.joint:
# banded) banded ridge, and the best U-Net layer (Fig. 9).


rule encode:
    input:
        unpack(betas),
        nsd_tree(),
        features="results/features/{space}.npy",
        feature_ids="results/features/{space}_ids.tsv",
    output:
        r="results/encode/{subject}/{space}/r.nii.gz",
        p="results/encode/{subject}/{space}/p.nii.gz",
        fdr="results/encode/{subject}/{space}/fdr_mask.nii.gz",
        nc="results/encode/{subject}/{space}/r2_over_nc.nii.gz",
        table="results/encode/{subject}/{space}/voxels.tsv",
        pca="results/encode/{subject}/{space}/pca_explained_variance.tsv",
        png="results/encode/{subject}/{space}/r_slices.png",
    log:
        "logs/encode/{subject}_{space}.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_{space}.tsv"
    wildcard_constraints:
        space="z|c",
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=encode_mem,
        runtime=240,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        sessions=config["sessions"],
        encode=plan.keys(config["encode"], plan.ENCODE),
    script:
        "../scripts/encode.py"


# One job per subject and noise level fits every model at that level in one process
# (sdbrain.encode_outputs; the patterns and params come from common.smk).
# At each of encode.noise_levels: the final z_c and z + z_c (Figs. 6-7).
rule encode_level:
    input:
        unpack(level_inputs(False)),
        nsd_tree(),
    output:
        level_outputs(False),
    log:
        "logs/encode/{subject}_encode_level{level}.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_encode_level{level}.tsv"
    wildcard_constraints:
        level=level_pattern(False),
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=encode_mem,
        runtime=60 + 30 * LEVEL_MODELS[False].count(),
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        sessions=config["sessions"],
        encode=plan.keys(config["encode"], plan.ENCODE),
        single=level_models(False, "single"),
        joint=level_models(False, "joint"),
        layer_groups=level_models(False, "layer_groups"),
        folder=lambda wildcards: f"results/encode/{wildcards.subject}",
    script:
        "../scripts/encode_level.py"


# At each of encode.step_levels: z_c and the U-Net layers at each step, z + z_c at each
# step, and the best layer per voxel (Figs. 8-9).
rule encode_steps:
    input:
        unpack(level_inputs(True)),
        nsd_tree(),
    output:
        level_outputs(True),
    log:
        "logs/encode/{subject}_encode_steps{level}.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_encode_steps{level}.tsv"
    wildcard_constraints:
        level=level_pattern(True),
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=encode_mem,
        runtime=60 + 30 * LEVEL_MODELS[True].count(),
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        sessions=config["sessions"],
        encode=plan.keys(config["encode"], plan.ENCODE),
        single=level_models(True, "single"),
        joint=level_models(True, "joint"),
        layer_groups=level_models(True, "layer_groups"),
        layers=LAYER_NAMES,
        folder=lambda wildcards: f"results/encode/{wildcards.subject}",
    script:
        "../scripts/encode_level.py"


# encode.joint: banded (only then are these rules' outputs asked for): banded ridge joint
# models beside the concatenated ones, and the two compared per ROI.


rule encode_banded:
    input:
        unpack(betas),
        nsd_tree(),
        z="results/features/z.npy",
        z_ids="results/features/z_ids.tsv",
        other="results/features/{space}.npy",
        other_ids="results/features/{space}_ids.tsv",
        z_table="results/encode/{subject}/z/voxels.tsv",
        other_table="results/encode/{subject}/{space}/voxels.tsv",
    output:
        r="results/encode/{subject}/z+{space}/banded/r.nii.gz",
        fdr="results/encode/{subject}/z+{space}/banded/fdr_mask.nii.gz",
        split_z="results/encode/{subject}/z+{space}/banded/split_z.nii.gz",
        split_other="results/encode/{subject}/z+{space}/banded/split_{space}.nii.gz",
        unique_z="results/encode/{subject}/z+{space}/banded/unique_z.nii.gz",
        unique_other="results/encode/{subject}/z+{space}/banded/unique_{space}.nii.gz",
        table="results/encode/{subject}/z+{space}/banded/voxels.tsv",
        png="results/encode/{subject}/z+{space}/banded/unique_slices.png",
    log:
        "logs/encode/{subject}_z+{space}_banded.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_z+{space}_banded.tsv"
    wildcard_constraints:
        space=SPACE_PATTERN,
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=encode_mem,
        runtime=480,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        encode=plan.keys(config["encode"], plan.BANDED),
    script:
        "../scripts/encode_banded.py"


rule encode_compare:
    input:
        nsd_tree(),
        concatenated=expand("results/encode/{{subject}}/z+{space}/voxels.tsv", space=ENCODE.joint),
        banded=expand("results/encode/{{subject}}/z+{space}/banded/voxels.tsv", space=ENCODE.joint),
        truth=[TOY_TRUTH] if TOY else [],
    output:
        rois=report(
            "results/encode/{subject}/joint_comparison.tsv",
            caption="../report/encode_tables.rst",
            category="Tables",
            subcategory="{subject}",
        ),
        agreement=report(
            "results/encode/{subject}/joint_agreement.tsv",
            caption="../report/encode_tables.rst",
            category="Tables",
            subcategory="{subject}",
        ),
    log:
        "logs/encode/{subject}_compare.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_compare.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        joint=ENCODE.joint,
        clearly_negative=config["encode"]["banded"]["clearly_negative"],
        truth=TOY,
    script:
        "../scripts/encode_compare.py"


rule encode_summary:
    input:
        single=expand("results/encode/{{subject}}/{space}/voxels.tsv", space=ENCODE.single),
        joint=expand("results/encode/{{subject}}/z+{space}/voxels.tsv", space=ENCODE.joint),
        layers=expand("results/encode/{{subject}}/{group}/best_layer.tsv", group=ENCODE.layer_groups),
    output:
        single=report(
            "results/encode/{subject}/roi_summary.tsv",
            caption="../report/encode_tables.rst",
            category="Tables",
            subcategory="{subject}",
        ),
        unique=report(
            "results/encode/{subject}/unique_summary.tsv",
            caption="../report/encode_tables.rst",
            category="Tables",
            subcategory="{subject}",
        ),
        layers=report(
            "results/encode/{subject}/layer_summary.tsv",
            caption="../report/encode_tables.rst",
            category="Tables",
            subcategory="{subject}",
        ),
    log:
        "logs/encode/{subject}_summary.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_summary.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        single=ENCODE.single,
        joint=ENCODE.joint,
        groups=list(ENCODE.layer_groups),
        layers=list(config["features"]["unet_layers"]),
    script:
        "../scripts/encode_summary.py"
