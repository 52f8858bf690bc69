# Human two-way identification (the paper's subjective evaluation). The workflow builds the
# trial set and analyses exported answers; the rating app itself (sdbrain-rate serve) runs
# outside the workflow, during a lab session.


rule rate_trials:
    input:
        nsd_tree(),
        manifests=expand(
            "results/reconstruct/{subject}/{method}/manifest.tsv", subject=RATE_SUBJECTS, method=RATE_METHODS
        ),
    output:
        trials="results/rate/trials.tsv",
        session="results/rate/session.json",
        images=directory("results/rate/images"),
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
        trials="results/rate/trials.tsv",
    output:
        accuracy=report("results/rate/accuracy.tsv", caption="../report/rate.rst", category="Tables"),
        agreement="results/rate/agreement.tsv",
        markdown="results/rate/accuracy.md",
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
