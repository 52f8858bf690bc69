# Human two-way identification (the paper's subjective evaluation). The workflow builds the
# trial set and analyses exported answers; the rating app itself (sdbrain-rate serve) runs
# outside the workflow, during a lab session.


rule rate_trials:
    input:
        nsd_tree(),
        manifests=manifests(RATE_SUBJECTS, RATE_METHODS),
    output:
        trials=paths.RATE_TRIALS,
        session=paths.RATE_SESSION,
        images=directory(paths.RATE_IMAGES),
    log:
        "logs/rate/trials.log",
    benchmark:
        "logs/benchmarks/rate/trials.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        pairs=[[s, m] for s in RATE_SUBJECTS for m in RATE_METHODS],
        rate={k: config["rate"][k] for k in ("n_images", "trials_per_rater", "seed")},
    script:
        "../scripts/rate_trials.py"


rule rate_analysis:
    input:
        answers=RATE_ANSWERS or [],
        trials=paths.RATE_TRIALS,
    output:
        accuracy=report(paths.RATE_ACCURACY, caption="../report/rate.rst", category="Tables"),
        agreement=paths.RATE_AGREEMENT,
        markdown=paths.RATE_MARKDOWN,
    log:
        "logs/rate/analysis.log",
    benchmark:
        "logs/benchmarks/rate/analysis.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../scripts/rate_analysis.py"
