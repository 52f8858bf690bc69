# Decoders: ridge from the early ROI to z and from the ventral ROI to c (per subject).


rule decode:
    input:
        unpack(decoder_betas),
        **paths.with_ids("features", paths.features("{target}")),
    output:
        **paths.with_ids("prediction", paths.decoded()),
        alphas=paths.decode_alphas(),
        target_scores=paths.decode_scores("targets"),
        image_scores=paths.decode_scores("images"),
    log:
        "logs/decode/{subject}_{target}.log",
    benchmark:
        "logs/benchmarks/decode/{subject}_{target}.tsv"
    wildcard_constraints:
        target="z|c",
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        # X, Y, the Gram matrix and its eigenvectors per fold
        mem_mb=mem_from_input(4000, 3),
        runtime=120,
    params:
        roi=lambda w: config["decode"]["roi"][w.target],
        decode=plan.keys(config["decode"], plan.DECODE_KEYS),
    script:
        "../scripts/decode.py"
