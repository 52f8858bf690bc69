# The Stable Diffusion model, loaded the way every later stage loads it.


rule model_summary:
    input:
        model_input(),
    output:
        report(paths.MODEL_SUMMARY, caption="../report/model.rst", category="Model"),
    log:
        "logs/model/summary.log",
    benchmark:
        "logs/benchmarks/model/summary.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=8000,
        runtime=10,
    params:
        # a user's model is read in place (and checked by the script); the toy model is built
        model_dir=lambda wildcards: config["model_dir"],
    script:
        "../scripts/model_summary.py"
