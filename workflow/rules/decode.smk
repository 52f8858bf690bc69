# Decoders: ridge from the early ROI to z, from the ventral ROI to c, for method text from six
# streams to BLIP's image tokens and, for methods gan and gan_text, to each VGG19 layer's
# features, vgg19-<layer> (per subject; decode.roi, decode.per_target).


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
        target="z|c|blip|vgg19-[a-z0-9_]+",
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=decode_mem,
        runtime=120,
    params:
        roi=lambda w: config["decode"]["roi"][plan.target_family(w.target)],
        decode=lambda w: plan.decode_settings(config, w.target),
    script:
        "../scripts/decode.py"
