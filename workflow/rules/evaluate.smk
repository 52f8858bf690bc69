# Evaluation: features of the original test images and of every reconstruction,
# two-way identification in the paper's and the community's protocols, Fig. 5.


rule eval_originals:
    input:
        nsd_tree(),
        test_ids=paths.TEST_IDS,
    output:
        paths.ORIGINALS,
    log:
        "logs/evaluate/originals.log",
    benchmark:
        "logs/benchmarks/evaluate/originals.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=mem_from_input(6000, 3),
        runtime=60,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        evaluate=plan.keys(config["evaluate"], plan.EVALUATE_KEYS),
    script:
        "../scripts/eval_originals.py"


rule evaluate:
    input:
        nsd_tree(),
        test_ids=paths.TEST_IDS,
        originals=paths.ORIGINALS,
        manifest=paths.manifest(),
    output:
        paths.scores(),
    log:
        "logs/evaluate/{subject}_{method}.log",
    benchmark:
        "logs/benchmarks/evaluate/{subject}_{method}.tsv"
    wildcard_constraints:
        method=spaces.ANY_METHOD_PATTERN,
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        # the feature networks and every reconstruction of the subject in memory
        mem_mb=mem_from_input(6000, 3),
        runtime=120,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        evaluate=plan.keys(config["evaluate"], plan.EVALUATE_KEYS),
    script:
        "../scripts/evaluate.py"


rule eval_summary:
    input:
        scores=[paths.scores(method, subject) for subject in SUBJECTS for method in METHODS],
        # the raters' accuracy (rule rate_analysis) only when answers are given: Fig. 5's subjective panel
        subjective=[paths.RATE_ACCURACY] if RATE_ANSWERS else [],
    output:
        scores=paths.SCORES,
        summary=report(paths.IDENTIFICATION, caption="../report/tables.rst", category="Tables"),
        table=report(paths.COMMUNITY_TABLE, caption="../report/tables.rst", category="Tables"),
        markdown=paths.COMMUNITY_MARKDOWN,
        fig5=report(
            paths.figure("fig5"), caption="../report/fig5.rst", category="Figures", subcategory="Reconstruction"
        ),
        fig5_pdf=paths.figure("fig5", "pdf"),
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
        # the community table's methods: the main X_zc, and the technical report's methods that run
        method=[ZC_MAIN] + plan.extra_methods(config),
        model_note=MODEL_NOTE,
    script:
        "../scripts/eval_summary.py"
