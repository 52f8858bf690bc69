# Reconstruction or retrieval? Novelty of each test image, novel (C+1-way) identification,
# N-way identification with fixed pools, bootstrap intervals and permutation tests, collapse
# of the decoded features, and four controls scored as methods (Shirakawa et al. 2024).

# Controls reconstructed through the generator are pseudo-subjects (GENERATED_CONTROLS, common.smk);
# shuffled and retrieval need no new images (sdbrain.controls).


rule validity_controls:
    input:
        z="results/features/z.npy",
        z_ids="results/features/z_ids.tsv",
        c="results/features/c.npy",
        c_ids="results/features/c_ids.tsv",
        test_ids="results/fmri/test_ids.tsv",
        train_ids=expand("results/fmri/{subject}/train_ids.tsv", subject=SUBJECTS),
    output:
        expand(
            "results/validity/controls/{control}/{target}_test{suffix}",
            control=GENERATED_CONTROLS,
            target=["z", "c"],
            suffix=[".npy", "_ids.tsv"],
        ),
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
        test_ids="results/fmri/test_ids.tsv",
        train_ids=expand("results/fmri/{subject}/train_ids.tsv", subject=SUBJECTS),
        manifests=validity_manifests(),
    output:
        "results/validity/features.npz",
    log:
        "logs/validity/features.log",
    benchmark:
        "logs/benchmarks/validity/features.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        mem_mb=mem_from_input(6000, 3),
        runtime=120,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        feature=config["validity"]["feature"],
        evaluate=plan.keys(config["evaluate"], plan.NETWORKS),
    script:
        "../scripts/validity_features.py"


rule validity:
    input:
        features="results/validity/features.npz",
        train_ids="results/fmri/{subject}/train_ids.tsv",
        test_ids="results/fmri/{subject}/test_ids.tsv",
        decoded=expand(
            "results/decode/{{subject}}/{target}_test{suffix}", target=["z", "c"], suffix=[".npy", "_ids.tsv"]
        ),
        true=expand("results/features/{target}{suffix}", target=["z", "c"], suffix=[".npy", "_ids.tsv"]),
        truth=[TOY_TRUTH] if TOY else [],
    output:
        novelty="results/validity/{subject}/novelty.tsv",
        scores="results/validity/{subject}/scores.tsv",
        summary="results/validity/{subject}/summary.tsv",
        tests="results/validity/{subject}/tests.tsv",
        collapse="results/validity/{subject}/collapse.tsv",
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
        validity=plan.keys(config["validity"], plan.VALIDITY),
        methods=METHODS,
        zc=ZC_MAIN,
        generated=GENERATED_CONTROLS,
    script:
        "../scripts/validity.py"


rule validity_summary:
    input:
        summary=expand("results/validity/{subject}/summary.tsv", subject=SUBJECTS),
        collapse=expand("results/validity/{subject}/collapse.tsv", subject=SUBJECTS),
        tests=expand("results/validity/{subject}/tests.tsv", subject=SUBJECTS),
    output:
        summary=report("results/validity/summary.tsv", caption="../report/validity.rst", category="Tables"),
        markdown=report("results/validity/report.md", caption="../report/validity.rst", category="Tables"),
        figure=report(
            "results/figures/validity.png",
            caption="../report/validity.rst",
            category="Figures",
            subcategory="Reconstruction",
        ),
        figure_pdf="results/figures/validity.pdf",
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
