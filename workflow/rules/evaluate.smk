# Evaluation: features of the original test images and of every reconstruction,
# two-way identification in the paper's and the community's protocols, Fig. 5.


rule eval_originals:
    input:
        nsd_tree(),
        test_ids="results/fmri/test_ids.tsv",
    output:
        "results/evaluate/originals.npz",
    log:
        "logs/evaluate/originals.log",
    benchmark:
        "logs/benchmarks/evaluate/originals.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=mem_from_input(6000, 3),
        runtime=60,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        evaluate=plan.keys(config["evaluate"], plan.EVALUATE),
    script:
        "../scripts/eval_originals.py"


rule evaluate:
    input:
        nsd_tree(),
        test_ids="results/fmri/test_ids.tsv",
        originals="results/evaluate/originals.npz",
        manifest="results/reconstruct/{subject}/{method}/manifest.tsv",
    output:
        "results/evaluate/{subject}/{method}_scores.tsv",
    log:
        "logs/evaluate/{subject}_{method}.log",
    benchmark:
        "logs/benchmarks/evaluate/{subject}_{method}.tsv"
    wildcard_constraints:
        method=METHOD_PATTERN,
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        # the feature networks and every reconstruction of the subject in memory
        mem_mb=mem_from_input(6000, 3),
        runtime=120,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        evaluate=plan.keys(config["evaluate"], plan.EVALUATE),
    script:
        "../scripts/evaluate.py"


rule eval_summary:
    input:
        scores=expand("results/evaluate/{subject}/{method}_scores.tsv", subject=SUBJECTS, method=METHODS),
        # the raters' accuracy (rule rate_analysis) only when answers are given: Fig. 5's subjective panel
        subjective=["results/rate/accuracy.tsv"] if RATE_ANSWERS else [],
    output:
        scores="results/evaluate/scores.tsv",
        summary=report("results/evaluate/identification.tsv", caption="../report/tables.rst", category="Tables"),
        table=report("results/evaluate/community_table.tsv", caption="../report/tables.rst", category="Tables"),
        markdown="results/evaluate/community_table.md",
        fig5=report(
            "results/figures/fig5.png", caption="../report/fig5.rst", category="Figures", subcategory="Reconstruction"
        ),
        fig5_pdf="results/figures/fig5.pdf",
    log:
        "logs/evaluate/summary.log",
    benchmark:
        "logs/benchmarks/evaluate/summary.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        method=ZC_MAIN,
        model_note=MODEL_NOTE,
    script:
        "../scripts/eval_summary.py"
