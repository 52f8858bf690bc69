# Stable Diffusion features of every stimulus the run needs, once for all subjects, in
# chunks: z (image latent) and c (caption embedding); and per noise level s, one
# image-to-image pass from the true z with the true c giving z_c, and at the levels
# of encode.step_levels also z_c and five U-Net layers at early/middle/late steps.


rule stimuli:
    input:
        [paths.trial_ids(split, subject) for subject in SUBJECTS for split in ("train", "test")],
    output:
        paths.STIMULI,
    log:
        "logs/features/stimuli.log",
    benchmark:
        "logs/benchmarks/features/stimuli.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        # the stimuli of the chosen subjects, read from the 73k-image brick in blocks
        mem_mb=8000,
        runtime=60,
    script:
        "../scripts/stimuli.py"


rule features:
    input:
        nsd_tree(),
        model_input(),
        stimuli=paths.STIMULI,
    output:
        **paths.with_ids("values", paths.feature_chunk()),
    log:
        "logs/features/{target}_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/features/{target}_chunk{chunk}.tsv"
    wildcard_constraints:
        target="z|c",
        chunk=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=mem_from_input(6000, 2),
        runtime=60,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        model_dir=lambda wildcards: config["model_dir"],
        features=plan.keys(config["features"], plan.FEATURES_KEYS),
    script:
        "../scripts/features.py"


rule diffusion_features:
    input:
        nsd_tree(),
        model_input(),
        **paths.with_ids("c", paths.features("c")),
        stimuli=paths.STIMULI,
    output:
        directory(paths.diffusion_chunk()),
    log:
        "logs/features/diffusion{level}_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/features/diffusion{level}_chunk{chunk}.tsv"
    wildcard_constraints:
        level=spaces.LEVEL_PATTERN,
        chunk=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=mem_from_input(6000, 2),
        runtime=240,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        model_dir=lambda wildcards: config["model_dir"],
        features=plan.keys(config["features"], plan.DIFFUSION_KEYS),
        # the image-to-image pass of the reconstructions (one sample)
        reconstruct=plan.keys(config["reconstruct"], plan.GENERATE_KEYS),
        # the denoising steps and U-Net layers captured, only at encode.step_levels
        steps=lambda w: config["features"]["steps"] if w.level in ENCODING_MODELS.captured else {},
        layers=lambda w: config["features"]["unet_layers"] if w.level in ENCODING_MODELS.captured else {},
    script:
        "../scripts/diffusion_features.py"


rule features_merge:
    input:
        unpack(feature_chunks),
    output:
        **paths.with_ids("values", paths.features("{target}")),
    log:
        "logs/features/{target}_merge.log",
    benchmark:
        "logs/benchmarks/features/{target}_merge.tsv"
    wildcard_constraints:
        target=spaces.PATTERN,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=mem_from_input(1000, 3),
        runtime=30,
    script:
        "../scripts/features_merge.py"
