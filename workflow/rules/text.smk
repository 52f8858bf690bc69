# The decoded text prompt (method text; docs/text.md): BLIP's image tokens of every stimulus,
# decoded per subject from decode.roi.blip (rule decode, target blip), captions written from
# the decoded tokens, and their scores against the true captions with a ceiling and a chance row.


rule blip_features:
    input:
        nsd_tree(),
        captioner=config["text"]["captioner_dir"],
        stimuli=paths.STIMULI,
    output:
        **paths.with_ids("values", paths.features("blip")),
    log:
        "logs/features/blip.log",
    benchmark:
        "logs/benchmarks/features/blip.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        # the images of one batch and the model; the tokens are written to disk as they come
        mem_mb=6000,
        runtime=240,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        text=plan.keys(config["text"], ("image_size", "batch_size")),
        device=config["features"]["device"],
    script:
        "../scripts/blip_features.py"


rule captions:
    input:
        nsd_tree(),
        **paths.with_ids("decoded", paths.decoded("blip")),
        **paths.with_ids("features", paths.features("blip")),
        captioner=config["text"]["captioner_dir"],
    output:
        paths.captions(),
    log:
        "logs/text/{subject}_captions.log",
    benchmark:
        "logs/benchmarks/text/{subject}_captions.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=mem_from_input(4000, 2),
        runtime=120,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        text=plan.keys(config["text"], ("batch_size", "generation")),
        device=config["features"]["device"],
    script:
        "../scripts/captions.py"


rule caption_scores:
    input:
        toy_truth(),
        model_input(),
        captions=paths.captions(),
    output:
        images=paths.caption_scores(),
        summary=paths.caption_scores(table="summary"),
    log:
        "logs/text/{subject}_caption_scores.log",
    benchmark:
        "logs/benchmarks/text/{subject}_caption_scores.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        model_dir=lambda wildcards: config["model_dir"],
        scenes=paths.TOY_SCENES if TOY else None,
        seed=config["reconstruct"]["seed"],
    script:
        "../scripts/caption_scores.py"


rule text_summary:
    input:
        [paths.caption_scores(subject, "summary") for subject in SUBJECTS],
    output:
        report(paths.TEXT_SUMMARY, caption="../report/text.rst", category="Tables"),
    log:
        "logs/text/summary.log",
    benchmark:
        "logs/benchmarks/text/summary.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/text_summary.py"


rule caption_c:
    input:
        model_input(),
        captions=paths.captions(),
    output:
        **paths.with_ids("values", paths.caption_c()),
    log:
        "logs/text/{subject}_caption_c.log",
    benchmark:
        "logs/benchmarks/text/{subject}_caption_c.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=4000,
        runtime=30,
    params:
        model_dir=lambda wildcards: config["model_dir"],
        features=plan.keys(config["features"], ("batch_size", "device")),
    script:
        "../scripts/caption_c.py"
