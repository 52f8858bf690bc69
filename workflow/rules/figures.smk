# Figures of reconstructions: Fig. 3 (one subject, all methods) and Fig. 4 (all subjects).


rule fig3:
    input:
        nsd_tree(),
        test_ids=paths.TEST_IDS,
        manifests=lambda w: manifests([w.subject], plan.fig3_methods(config)),
    output:
        png=report(
            paths.figure("fig3_{subject}"),
            caption="../report/fig3.rst",
            category="Figures",
            subcategory="Reconstruction",
        ),
        pdf=paths.figure("fig3_{subject}", "pdf"),
    log:
        "logs/figures/fig3_{subject}.log",
    benchmark:
        "logs/benchmarks/figures/fig3_{subject}.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        n_images=config["figures"]["n_images"],
        labels=plan.fig3_labels(config),
        title=lambda w: f"Fig. 3: reconstructions, {w.subject}",
        note=MODEL_NOTE,
    script:
        "../scripts/figure_reconstructions.py"


rule fig4:
    input:
        nsd_tree(),
        test_ids=paths.TEST_IDS,
        manifests=manifests(SUBJECTS, [ZC_MAIN]),
    output:
        png=report(paths.figure("fig4"), caption="../report/fig4.rst", category="Figures", subcategory="Reconstruction"),
        pdf=paths.figure("fig4", "pdf"),
    log:
        "logs/figures/fig4.log",
    benchmark:
        "logs/benchmarks/figures/fig4.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        n_images=config["figures"]["n_images"],
        labels=[f"X_zc {s}" for s in SUBJECTS],
        title="Fig. 4: the same images across subjects",
        note=MODEL_NOTE,
    script:
        "../scripts/figure_reconstructions.py"
