# Stable Diffusion features of every stimulus the run needs: z (image latent),
# c (caption embedding) and z_c (the latent after image-to-image denoising of the true
# z with the true c at noise level s, target zc<s>), once for all subjects, in chunks.

FEATURE_CHUNKS = range(config["features"]["n_chunks"])


rule stimuli:
    input:
        expand("results/fmri/{subject}/{split}_ids.tsv", subject=SUBJECTS, split=["train", "test"]),
    output:
        "results/features/stimuli.tsv",
    log:
        "logs/features/stimuli.log",
    conda:
        "../../envs/data.yaml"
    script:
        "../scripts/stimuli.py"


rule features:
    input:
        unpack(true_c_input),
        nsd_tree(),
        model_input(),
        stimuli="results/features/stimuli.tsv",
    output:
        values="results/features/{target}/chunk{chunk}.npy",
        ids="results/features/{target}/chunk{chunk}_ids.tsv",
    wildcard_constraints:
        target=METHOD_PATTERN,
        chunk=r"\d+",
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        model_dir=lambda wildcards: config["model_dir"],
        features=config["features"],
        reconstruct=config["reconstruct"],
    log:
        "logs/features/{target}_chunk{chunk}.log",
    conda:
        "../../envs/torch.yaml"
    threads: 2
    resources:
        gpu=1,
        mem_mb=16000,
        runtime=60,
    script:
        "../scripts/features.py"


rule features_merge:
    input:
        values=expand("results/features/{{target}}/chunk{chunk}.npy", chunk=FEATURE_CHUNKS),
        ids=expand("results/features/{{target}}/chunk{chunk}_ids.tsv", chunk=FEATURE_CHUNKS),
    output:
        values="results/features/{target}.npy",
        ids="results/features/{target}_ids.tsv",
    wildcard_constraints:
        target=METHOD_PATTERN,
    log:
        "logs/features/{target}_merge.log",
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    script:
        "../scripts/features_merge.py"
