# The report's pieces: the figures on their own, the run's configuration and provenance,
# and every job's log with the time per rule.


rule figures:
    input:
        [paths.figure(f"fig3_{subject}") for subject in SUBJECTS],
        paths.figure("fig4"),
        paths.figure("fig5"),
        [paths.figure(f"fig{fig}") for fig in ENCODING_FIGURES],


rule run_config:
    output:
        config=report(paths.RUN_CONFIG, caption="../report/config.rst", category="Run"),
        provenance=report(paths.PROVENANCE, caption="../report/provenance.rst", category="Run"),
    log:
        "logs/report/config.log",
    benchmark:
        "logs/benchmarks/report/config.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        config=config,
        workflow_dir=WORKFLOW_DIR,
    script:
        "../scripts/run_config.py"


rule run_logs:
    input:
        [path for path in all_outputs() if not path.startswith(paths.REPORT)],
    output:
        logs=report(paths.RUN_LOGS, caption="../report/logs.rst", category="Logs"),
        # Markdown, not TSV: times differ from run to run (the tests compare TSVs across runs)
        rule_times=report(paths.RULE_TIMES, caption="../report/rule_times.rst", category="Run"),
    log:
        "logs/report/logs.log",
    benchmark:
        "logs/benchmarks/report/logs.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        logs="logs",
    script:
        "../scripts/run_logs.py"
