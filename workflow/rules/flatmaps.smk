# Encoding maps on cortical flatmaps (pycortex) and Figs. 6-9. The toy world's volumes
# live in the space of pycortex's demo subject S1; real NSD subjects are imported
# from nsddata/freesurfer into the workflow's own filestore first.


rule pycortex_import:
    input:
        # FreeSurfer's tools run only on an NSD tree that rule split has checked
        checked=paths.INVENTORY,
    output:
        transform("{subject}"),
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
        xfm=FLATMAPS["xfm"],
        patch=FLATMAPS["flat_patch"],
    script:
        "../scripts/pycortex_import.py"


rule flatmap_rois:
    input:
        nsd_tree(),
        imported=lambda w: [] if FLATMAPS["pycortex_subject"] != "{subject}" else transform(w.subject),
    output:
        flatmap_reports(["rois"], "rois"),
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
        xfm=FLATMAPS["xfm"],
        height=FLATMAPS["height"],
        note="",
    script:
        "../scripts/flatmap_rois.py"


rule flatmaps:
    input:
        unpack(encoding_maps),
        nsd_tree(),
        rois=paths.flatmap("rois"),  # pycortex's caches are built there, once
    output:
        r=flatmap_reports([f"{space}_r" for space in ENCODING_MODELS.single], "flatmap_r"),
        unique=flatmap_reports([f"{paths.joint(space)}_unique" for space in ENCODING_MODELS.joint], "flatmap_unique"),
        best=flatmap_reports([f"{group}_best_layer" for group in ENCODING_MODELS.layer_groups], "flatmap_layers"),
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
        xfm=FLATMAPS["xfm"],
        height=FLATMAPS["height"],
        fdr_q=config["encode"]["fdr_q"],
        outline_labels=OUTLINE_LABELS,
        single=ENCODING_MODELS.single,
        joint=ENCODING_MODELS.joint,
        groups=list(ENCODING_MODELS.layer_groups),
        layers=UNET_LAYERS,
        note=MODEL_NOTE,
    script:
        "../scripts/flatmaps.py"


rule viewer:
    input:
        unpack(encoding_maps),
        rois=paths.flatmap("rois"),  # pycortex's caches are built there, once
    output:
        # the folder also holds the surfaces (CTM) and one PNG per map under data/
        html=paths.viewer(),
        layers=report(
            paths.viewer_layers(), caption="../report/viewer.rst", category="Flatmaps", subcategory="{subject}"
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
        xfm=FLATMAPS["xfm"],
        fdr_q=config["encode"]["fdr_q"],
        single=ENCODING_MODELS.single,
        joint=ENCODING_MODELS.joint,
        groups=list(ENCODING_MODELS.layer_groups),
        layers=UNET_LAYERS,
    script:
        "../scripts/viewer.py"


rule flatmaps_banded:
    input:
        unpack(banded_maps),
        nsd_tree(),
        rois=paths.flatmap("rois"),
    output:
        unique=flatmap_reports([f"{paths.joint(s)}_banded_unique" for s in ENCODING_MODELS.joint], "flatmap_banded"),
        split=flatmap_reports([f"{paths.joint(s)}_banded_split" for s in ENCODING_MODELS.joint], "flatmap_banded"),
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
        xfm=FLATMAPS["xfm"],
        height=FLATMAPS["height"],
        fdr_q=config["encode"]["fdr_q"],
        outline_labels=OUTLINE_LABELS,
        joint=ENCODING_MODELS.joint,
        note=MODEL_NOTE,
    script:
        "../scripts/flatmaps_banded.py"


rule encoding_figure:
    input:
        nsd_tree(),
        lambda w: plan.encoding_figure(config, int(w.fig)).maps(),
        [paths.flatmap("rois", subject) for subject in SUBJECTS],
    output:
        png=report(paths.figure("fig{fig}"), caption="../report/encoding_figure.rst", category="Figures"),
        pdf=paths.figure("fig{fig}", "pdf"),
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
        xfm=FLATMAPS["xfm"],
        height=FLATMAPS["height"],
        row_labels=lambda w: plan.encoding_figure(config, int(w.fig)).rows,
        column_labels=lambda w: plan.encoding_figure(config, int(w.fig)).columns,
        panels=lambda w: plan.encoding_figure(config, int(w.fig)).panels,
        style=lambda w: plan.encoding_figure(config, int(w.fig)).style,
        title=lambda w: plan.encoding_figure(config, int(w.fig)).title,
        note=MODEL_NOTE,
    script:
        "../scripts/figure_encoding.py"
