# The Stable Diffusion model, loaded the way every later stage loads it.


rule model_summary:
    input:
        config["model_dir"],
    output:
        "results/model/summary.tsv",
    log:
        "logs/model/summary.log",
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=8000,
        runtime=10,
    script:
        "../scripts/model_summary.py"
