# Encoding models: whole-brain voxel-wise ridge from each feature space, scored per
# voxel on the test set, with p-values, BH-FDR masks, NIfTI maps and ROI summaries;
# joint z + z_c models for unique variance (Figs. 7-8), concatenated and (encode.joint:
# banded) banded ridge, and the best U-Net layer (Fig. 9).


rule encode:
    input:
        unpack(betas),
        nsd_tree(),
        **paths.with_ids("features", paths.features()),
    output:
        **paths.model_files(paths.SINGLE),
    log:
        "logs/encode/{subject}_{space}.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_{space}.tsv"
    wildcard_constraints:
        space="z|c",
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=encode_mem,
        runtime=240,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        sessions=config["sessions"],
        encode=plan.keys(config["encode"], plan.ENCODE_KEYS),
    script:
        "../scripts/encode.py"


# One job per subject and noise level fits every model at that level in one process
# (sdbrain.linear.encode_maps). At each of encode.noise_levels: the final z_c and z + z_c (Figs. 6-7).
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
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=encode_mem,
        runtime=60 + 30 * LEVEL_MODELS[False].count(),
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        sessions=config["sessions"],
        encode=plan.keys(config["encode"], plan.ENCODE_KEYS),
        single=level_models(False, "single"),
        joint=level_models(False, "joint"),
        layer_groups=level_models(False, "layer_groups"),
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
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=encode_mem,
        runtime=60 + 30 * LEVEL_MODELS[True].count(),
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        sessions=config["sessions"],
        encode=plan.keys(config["encode"], plan.ENCODE_KEYS),
        single=level_models(True, "single"),
        joint=level_models(True, "joint"),
        layer_groups=level_models(True, "layer_groups"),
        layers=UNET_LAYERS,
    script:
        "../scripts/encode_level.py"


# encode.joint: banded (only then are these rules' outputs asked for): banded ridge joint
# models beside the concatenated ones, and the two compared per ROI.


rule encode_banded:
    input:
        unpack(betas),
        nsd_tree(),
        **paths.with_ids("z", paths.features("z")),
        **paths.with_ids("other", paths.features()),
        z_table=paths.model_file(paths.SINGLE, "table", "z"),
        other_table=paths.model_file(paths.SINGLE, "table"),
    output:
        **paths.model_files(paths.BANDED, paths.banded()),
    log:
        "logs/encode/{subject}_z+{space}_banded.log",
    benchmark:
        "logs/benchmarks/encode/{subject}_z+{space}_banded.tsv"
    wildcard_constraints:
        space=spaces.PATTERN,
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=encode_mem,
        runtime=480,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        encode=plan.keys(config["encode"], plan.BANDED_KEYS),
    script:
        "../scripts/encode_banded.py"


rule encode_compare:
    input:
        nsd_tree(),
        concatenated=model_tables(paths.JOINT, [paths.joint(s) for s in ENCODING_MODELS.joint], ENCODING_MODELS.joint),
        banded=model_tables(paths.BANDED, [paths.banded(s) for s in ENCODING_MODELS.joint], ENCODING_MODELS.joint),
        truth=toy_truth(),
    output:
        **{
            name: report(
                paths.joint_comparison(table),
                caption="../report/encode_tables.rst",
                category="Tables",
                subcategory="{subject}",
            )
            for name, table in (("rois", "comparison"), ("agreement", "agreement"))
        },
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
        joint=ENCODING_MODELS.joint,
        clearly_negative=config["encode"]["banded"]["clearly_negative"],
        truth=TOY,
    script:
        "../scripts/encode_compare.py"


rule encode_summary:
    input:
        single=model_tables(paths.SINGLE, ENCODING_MODELS.single),
        joint=model_tables(paths.JOINT, [paths.joint(s) for s in ENCODING_MODELS.joint], ENCODING_MODELS.joint),
        layers=model_tables(paths.LAYERS, list(ENCODING_MODELS.layer_groups)),
    output:
        **{
            name: report(
                paths.encode_summary(table),
                caption="../report/encode_tables.rst",
                category="Tables",
                subcategory="{subject}",
            )
            for name, table in (("single", "roi"), ("unique", "unique"), ("layers", "layer"))
        },
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
        single=ENCODING_MODELS.single,
        joint=ENCODING_MODELS.joint,
        groups=list(ENCODING_MODELS.layer_groups),
        layers=UNET_LAYERS,
    script:
        "../scripts/encode_summary.py"
