# Stable Diffusion features of every stimulus the run needs, once for all subjects, in
# chunks: z (image latent) and c (caption embedding); and per noise level s, one
# image-to-image pass from the true z with the true c giving z_c, and at the levels
# of encode.step_levels also z_c and five U-Net layers at early/middle/late steps.

FEATURE_CHUNKS = range(config["features"]["n_chunks"])


rule stimuli:
    input:
        expand("results/fmri/{subject}/{split}_ids.tsv", subject=SUBJECTS, split=["train", "test"]),
    output:
        "results/features/stimuli.tsv",
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
        stimuli="results/features/stimuli.tsv",
    output:
        values="results/features/{target}/chunk{chunk}.npy",
        ids="results/features/{target}/chunk{chunk}_ids.tsv",
    log:
        "logs/features/{target}_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/features/{target}_chunk{chunk}.tsv"
    wildcard_constraints:
        target="z|c",
        chunk=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=mem_from_input(6000, 2),
        runtime=60,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        model_dir=lambda wildcards: config["model_dir"],
        features=plan.keys(config["features"], plan.FEATURES),
    script:
        "../scripts/features.py"


rule diffusion_features:
    input:
        nsd_tree(),
        model_input(),
        stimuli="results/features/stimuli.tsv",
        c="results/features/c.npy",
        c_ids="results/features/c_ids.tsv",
    output:
        directory("results/features/diffusion{level}/chunk{chunk}"),
    log:
        "logs/features/diffusion{level}_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/features/diffusion{level}_chunk{chunk}.tsv"
    wildcard_constraints:
        level=spaces.LEVEL_PATTERN,
        chunk=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=mem_from_input(6000, 2),
        runtime=240,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        model_dir=lambda wildcards: config["model_dir"],
        features=plan.keys(config["features"], plan.DIFFUSION),
        generate=plan.keys(config["reconstruct"], plan.GENERATE),
        # the denoising steps and U-Net layers captured, only at encode.step_levels
        steps=lambda w: config["features"]["steps"] if w.level in ENCODE.captured else {},
        layers=lambda w: config["features"]["unet_layers"] if w.level in ENCODE.captured else {},
    script:
        "../scripts/diffusion_features.py"


rule features_merge:
    input:
        unpack(feature_chunks),
    output:
        values="results/features/{target}.npy",
        ids="results/features/{target}_ids.tsv",
    log:
        "logs/features/{target}_merge.log",
    benchmark:
        "logs/benchmarks/features/{target}_merge.tsv"
    wildcard_constraints:
        target=SPACE_PATTERN,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=mem_from_input(1000, 3),
        runtime=30,
    script:
        "../scripts/features_merge.py"
