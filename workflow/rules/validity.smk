# Reconstruction or retrieval? Novelty of each test image, novel (C+1-way) identification,
# N-way identification with fixed pools, bootstrap intervals and permutation tests, collapse
# of the decoded features, and four controls scored as methods (Shirakawa et al. 2024); with
# method text a fifth, retrieval by the decoded caption.

# Controls reconstructed through the generator are pseudo-subjects (GENERATED_CONTROLS, common.smk);
# shuffled and retrieval need no new images (sdbrain.evaluation.controls).


rule validity_controls:
    input:
        **paths.with_ids("z", paths.features("z")),
        **paths.with_ids("c", paths.features("c")),
        test_ids=paths.TEST_IDS,
        train_ids=[paths.trial_ids("train", subject) for subject in SUBJECTS],
    output:
        **control_features(),
    log:
        "logs/validity/controls.log",
    benchmark:
        "logs/benchmarks/validity/controls.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=mem_from_input(2000, 3),
        runtime=20,
    script:
        "../scripts/validity_controls.py"


rule validity_features:
    input:
        nsd_tree(),
        test_ids=paths.TEST_IDS,
        train_ids=[paths.trial_ids("train", subject) for subject in SUBJECTS],
        manifests=[paths.manifest(method, source) for source, method in VALIDITY_RECONSTRUCTIONS],
    output:
        paths.VALIDITY_FEATURES,
    log:
        "logs/validity/features.log",
    benchmark:
        "logs/benchmarks/validity/features.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=mem_from_input(6000, 3),
        runtime=120,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        feature=config["validity"]["feature"],
        evaluate=plan.keys(config["evaluate"], plan.NETWORKS_KEYS),
        # (subject or control, method) of each manifest, in its order
        reconstructions=VALIDITY_RECONSTRUCTIONS,
    script:
        "../scripts/validity_features.py"


rule validity:
    input:
        unpack(lambda w: paths.with_ids("caption_c", paths.caption_c(w.subject)) if TEXT else {}),
        **paths.with_ids("decoded_z", paths.decoded("z")),
        **paths.with_ids("decoded_c", paths.decoded("c")),
        **paths.with_ids("true_z", paths.features("z")),
        **paths.with_ids("true_c", paths.features("c")),
        features=paths.VALIDITY_FEATURES,
        train_ids=paths.trial_ids("train"),
        test_ids=paths.trial_ids("test"),
        truth=toy_truth(),
    output:
        **{table: paths.validity(table) for table in ("novelty", "scores", "summary", "tests", "collapse")},
    log:
        "logs/validity/{subject}.log",
    benchmark:
        "logs/benchmarks/validity/{subject}.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        # the subject's training rows of z and c (memory-mapped feature files: NSD's c is 9 GB) and the searches
        mem_mb=mem_from_input(4000, 1),
        runtime=60,
    params:
        validity=plan.keys(config["validity"], plan.VALIDITY_KEYS),
        methods=METHODS,
        zc=ZC_MAIN,
        generated=GENERATED_CONTROLS,
    script:
        "../scripts/validity.py"


rule validity_summary:
    input:
        **{
            table: [paths.validity(table, subject) for subject in SUBJECTS]
            for table in ("summary", "collapse", "tests")
        },
    output:
        summary=report(paths.VALIDITY_SUMMARY, caption="../report/validity.rst", category="Tables"),
        markdown=report(paths.VALIDITY_REPORT, caption="../report/validity.rst", category="Tables"),
        figure=report(
            paths.figure("validity"),
            caption="../report/validity.rst",
            category="Figures",
            subcategory="Reconstruction",
        ),
        figure_pdf=paths.figure("validity", "pdf"),
    log:
        "logs/validity/summary.log",
    benchmark:
        "logs/benchmarks/validity/summary.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=2000,
        runtime=20,
    params:
        feature=config["validity"]["feature"],
        model_note=MODEL_NOTE,
    script:
        "../scripts/validity_summary.py"
