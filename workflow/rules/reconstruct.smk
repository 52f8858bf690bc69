# Reconstruction of the test images from the decoded z and c: X_z, X_c and X_zc
# (one per strength), text (X_zc's start with the decoded caption's c) and gan_text (the
# iCNN image of rule icnn with the decoded caption's c), in chunks of test images, n samples each.


rule reconstruct:
    input:
        unpack(decoded_inputs),
        model=model_input(),
    output:
        directory(paths.reconstruction_chunk()),
    log:
        "logs/reconstruct/{subject}_{method}_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/reconstruct/{subject}_{method}_chunk{chunk}.tsv"
    wildcard_constraints:
        method=spaces.METHOD_PATTERN,
        chunk=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=mem_from_input(6000, 2),
        runtime=240,
    params:
        model_dir=lambda wildcards: config["model_dir"],
        features={"z_size": config["features"]["z_size"]},
        # method text adds its strength (the other methods' params stay as they were)
        reconstruct=lambda w: plan.reconstruct_settings(config, w.method),
    script:
        "../scripts/reconstruct.py"


rule reconstruct_manifest:
    input:
        [paths.reconstruction_chunk(chunk=k) for k in RECONSTRUCTION_CHUNKS],
    output:
        paths.manifest(),
    log:
        "logs/reconstruct/{subject}_{method}_manifest.log",
    benchmark:
        "logs/benchmarks/reconstruct/{subject}_{method}_manifest.tsv"
    wildcard_constraints:
        method=spaces.ANY_METHOD_PATTERN,
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=mem_from_input(2000, 2),
        runtime=20,
    script:
        "../scripts/reconstruct_manifest.py"
