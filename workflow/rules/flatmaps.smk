# Encoding maps on cortical flatmaps (pycortex) and Figs. 6-9. The toy world's volumes
# live in the space of pycortex's demo subject S1; real NSD subjects are imported
# from nsddata/freesurfer into the workflow's own filestore first.


rule pycortex_import:
    input:
        # FreeSurfer's tools run only on an NSD tree that rule split has checked
        checked="results/fmri/inventory.tsv",
    output:
        f"{config['pycortex_dir']}/db/{{subject}}/transforms/{FLAT['xfm']}/matrices.xfm",
    log:
        "logs/flatmaps/{subject}_import.log",
    benchmark:
        "logs/benchmarks/flatmaps/{subject}_import.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=8000,
        runtime=60,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        pycortex_dir=lambda wildcards, output: output[0].split("/db/")[0],
        xfm=FLAT["xfm"],
        patch=FLAT["flat_patch"],
    script:
        "../scripts/pycortex_import.py"


rule flatmap_rois:
    input:
        nsd_tree(),
        imported=lambda w: (
            []
            if FLAT["pycortex_subject"] != "{subject}"
            else f"{config['pycortex_dir']}/db/{w.subject}/transforms/{FLAT['xfm']}/matrices.xfm"
        ),
    output:
        report(
            "results/flatmaps/{subject}/rois.png",
            caption="../report/rois.rst",
            category="Flatmaps",
            subcategory="{subject}",
        ),
    log:
        "logs/flatmaps/{subject}_rois.log",
    benchmark:
        "logs/benchmarks/flatmaps/{subject}_rois.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        pycortex_dir=config["pycortex_dir"],
        cx_subject=lambda w: cx_subject(w.subject),
        xfm=FLAT["xfm"],
        height=FLAT["height"],
        note="",
    script:
        "../scripts/flatmap_rois.py"


rule flatmaps:
    input:
        nsd_tree(),
        rois="results/flatmaps/{subject}/rois.png",  # pycortex's caches are built there, once
        r=expand("results/encode/{{subject}}/{space}/r.nii.gz", space=ENCODE.single),
        fdr=expand("results/encode/{{subject}}/{space}/fdr_mask.nii.gz", space=ENCODE.single),
        unique_z=expand("results/encode/{{subject}}/z+{space}/unique_z.nii.gz", space=ENCODE.joint),
        unique_other=[f"results/encode/{{subject}}/z+{s}/unique_{s}.nii.gz" for s in ENCODE.joint],
        joint_fdr=expand("results/encode/{{subject}}/z+{space}/fdr_mask.nii.gz", space=ENCODE.joint),
        best=expand("results/encode/{{subject}}/{group}/best_layer.nii.gz", group=ENCODE.layer_groups),
    output:
        r=[
            report(
                f"results/flatmaps/{{subject}}/{space}_r.png",
                caption="../report/flatmap_r.rst",
                category="Flatmaps",
                subcategory="{subject}",
            )
            for space in ENCODE.single
        ],
        unique=[
            report(
                f"results/flatmaps/{{subject}}/z+{space}_unique.png",
                caption="../report/flatmap_unique.rst",
                category="Flatmaps",
                subcategory="{subject}",
            )
            for space in ENCODE.joint
        ],
        best=[
            report(
                f"results/flatmaps/{{subject}}/{group}_best_layer.png",
                caption="../report/flatmap_layers.rst",
                category="Flatmaps",
                subcategory="{subject}",
            )
            for group in ENCODE.layer_groups
        ],
    log:
        "logs/flatmaps/{subject}.log",
    benchmark:
        "logs/benchmarks/flatmaps/{subject}.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        pycortex_dir=config["pycortex_dir"],
        cx_subject=lambda w: cx_subject(w.subject),
        xfm=FLAT["xfm"],
        height=FLAT["height"],
        fdr_q=config["encode"]["fdr_q"],
        outline_labels=OUTLINE_LABELS,
        single=ENCODE.single,
        joint=ENCODE.joint,
        groups=list(ENCODE.layer_groups),
        layers=LAYER_NAMES,
        note=MODEL_NOTE,
    script:
        "../scripts/flatmaps.py"


rule viewer:
    input:
        rois="results/flatmaps/{subject}/rois.png",  # pycortex's caches are built there, once
        r=expand("results/encode/{{subject}}/{space}/r.nii.gz", space=ENCODE.single),
        fdr=expand("results/encode/{{subject}}/{space}/fdr_mask.nii.gz", space=ENCODE.single),
        unique_z=expand("results/encode/{{subject}}/z+{space}/unique_z.nii.gz", space=ENCODE.joint),
        unique_other=[f"results/encode/{{subject}}/z+{s}/unique_{s}.nii.gz" for s in ENCODE.joint],
        joint_fdr=expand("results/encode/{{subject}}/z+{space}/fdr_mask.nii.gz", space=ENCODE.joint),
        best=expand("results/encode/{{subject}}/{group}/best_layer.nii.gz", group=ENCODE.layer_groups),
    output:
        # the folder also holds the surfaces (CTM) and one PNG per map under data/
        html="results/viewer/{subject}/index.html",
        layers=report(
            "results/viewer/{subject}/layers.tsv",
            caption="../report/viewer.rst",
            category="Flatmaps",
            subcategory="{subject}",
        ),
    log:
        "logs/flatmaps/{subject}_viewer.log",
    benchmark:
        "logs/benchmarks/flatmaps/{subject}_viewer.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        pycortex_dir=config["pycortex_dir"],
        cx_subject=lambda w: cx_subject(w.subject),
        xfm=FLAT["xfm"],
        fdr_q=config["encode"]["fdr_q"],
        single=ENCODE.single,
        joint=ENCODE.joint,
        groups=list(ENCODE.layer_groups),
        layers=LAYER_NAMES,
    script:
        "../scripts/viewer.py"


rule flatmaps_banded:
    input:
        nsd_tree(),
        rois="results/flatmaps/{subject}/rois.png",
        fdr=expand("results/encode/{{subject}}/z+{space}/banded/fdr_mask.nii.gz", space=ENCODE.joint),
        unique_z=expand("results/encode/{{subject}}/z+{space}/banded/unique_z.nii.gz", space=ENCODE.joint),
        unique_other=[f"results/encode/{{subject}}/z+{s}/banded/unique_{s}.nii.gz" for s in ENCODE.joint],
        split_z=expand("results/encode/{{subject}}/z+{space}/banded/split_z.nii.gz", space=ENCODE.joint),
        split_other=[f"results/encode/{{subject}}/z+{s}/banded/split_{s}.nii.gz" for s in ENCODE.joint],
    output:
        unique=[
            report(
                f"results/flatmaps/{{subject}}/z+{space}_banded_unique.png",
                caption="../report/flatmap_banded.rst",
                category="Flatmaps",
                subcategory="{subject}",
            )
            for space in ENCODE.joint
        ],
        split=[
            report(
                f"results/flatmaps/{{subject}}/z+{space}_banded_split.png",
                caption="../report/flatmap_banded.rst",
                category="Flatmaps",
                subcategory="{subject}",
            )
            for space in ENCODE.joint
        ],
    log:
        "logs/flatmaps/{subject}_banded.log",
    benchmark:
        "logs/benchmarks/flatmaps/{subject}_banded.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        pycortex_dir=config["pycortex_dir"],
        cx_subject=lambda w: cx_subject(w.subject),
        xfm=FLAT["xfm"],
        height=FLAT["height"],
        fdr_q=config["encode"]["fdr_q"],
        outline_labels=OUTLINE_LABELS,
        joint=ENCODE.joint,
        note=MODEL_NOTE,
    script:
        "../scripts/flatmaps_banded.py"


rule encoding_figure:
    input:
        nsd_tree(),
        lambda w: figure_inputs(int(w.fig)),
    output:
        png=report("results/figures/fig{fig}.png", caption="../report/encoding_figure.rst", category="Figures"),
        pdf="results/figures/fig{fig}.pdf",
    log:
        "logs/figures/fig{fig}.log",
    benchmark:
        "logs/benchmarks/figures/fig{fig}.tsv"
    wildcard_constraints:
        fig="[6-9]",
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        pycortex_dir=config["pycortex_dir"],
        cx_subjects={s: cx_subject(s) for s in SUBJECTS},
        outline_labels=OUTLINE_LABELS,
        xfm=FLAT["xfm"],
        height=FLAT["height"],
        row_labels=lambda w: plan.encoding_figure(config, int(w.fig)).rows,
        column_labels=lambda w: plan.encoding_figure(config, int(w.fig)).columns,
        panels=lambda w: plan.encoding_figure(config, int(w.fig)).panels,
        style=lambda w: plan.encoding_figure(config, int(w.fig)).style,
        title=lambda w: plan.encoding_figure(config, int(w.fig)).title,
        note=MODEL_NOTE,
    script:
        "../scripts/figure_encoding.py"


rule figures:
    input:
        expand("results/figures/fig3_{subject}.png", subject=SUBJECTS),
        "results/figures/fig4.png",
        "results/figures/fig5.png",
        expand("results/figures/fig{fig}.png", fig=ENCODING_FIGURES),


rule run_config:
    output:
        config=report("results/report/config.yaml", caption="../report/config.rst", category="Run"),
        provenance=report("results/report/provenance.yaml", caption="../report/provenance.rst", category="Run"),
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
        workflow_dir=workflow.basedir,
    script:
        "../scripts/run_config.py"


rule run_logs:
    input:
        [path for path in all_outputs() if not path.startswith("results/report/")],
    output:
        logs=report("results/report/logs.txt", caption="../report/logs.rst", category="Logs"),
        # Markdown, not TSV: times differ from run to run (the tests compare TSVs across runs)
        rule_times=report("results/report/rule_times.md", caption="../report/rule_times.rst", category="Run"),
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
