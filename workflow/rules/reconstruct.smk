# Reconstruction of the test images from the decoded z and c: X_z, X_c and X_zc
# (one per strength), in chunks of test images, n samples each.

RECON_CHUNKS = range(config["reconstruct"]["n_chunks"])


rule reconstruct:
    input:
        unpack(decoded_inputs),
        model=model_input(),
    output:
        directory("results/reconstruct/{subject}/{method}/chunk{chunk}"),
    log:
        "logs/reconstruct/{subject}_{method}_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/reconstruct/{subject}_{method}_chunk{chunk}.tsv"
    wildcard_constraints:
        method=METHOD_PATTERN,
        chunk=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=mem_from_input(6000, 2),
        runtime=240,
    params:
        model_dir=lambda wildcards: config["model_dir"],
        z_size=config["features"]["z_size"],
        reconstruct=plan.keys(config["reconstruct"], plan.RECONSTRUCT),
    script:
        "../scripts/reconstruct.py"


rule reconstruct_manifest:
    input:
        expand("results/reconstruct/{{subject}}/{{method}}/chunk{chunk}", chunk=RECON_CHUNKS),
    output:
        "results/reconstruct/{subject}/{method}/manifest.tsv",
    log:
        "logs/reconstruct/{subject}_{method}_manifest.log",
    benchmark:
        "logs/benchmarks/reconstruct/{subject}_{method}_manifest.tsv"
    wildcard_constraints:
        method=METHOD_PATTERN,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=mem_from_input(2000, 2),
        runtime=20,
    script:
        "../scripts/reconstruct_manifest.py"
