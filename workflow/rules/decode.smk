# Decoders: ridge from the early ROI to z and from the ventral ROI to c (per subject).


rule decode:
    input:
        train=lambda w: f"results/fmri/{w.subject}/train_{config['decode']['roi'][w.target]}.npy",
        test=lambda w: f"results/fmri/{w.subject}/test_{config['decode']['roi'][w.target]}.npy",
        voxels=lambda w: f"results/fmri/{w.subject}/voxels_{config['decode']['roi'][w.target]}.tsv",
        train_ids="results/fmri/{subject}/train_ids.tsv",
        test_ids="results/fmri/{subject}/test_ids.tsv",
        features="results/features/{target}.npy",
        feature_ids="results/features/{target}_ids.tsv",
    output:
        prediction="results/decode/{subject}/{target}_test.npy",
        ids="results/decode/{subject}/{target}_test_ids.tsv",
        alphas="results/decode/{subject}/{target}_alphas.npy",
        target_scores="results/decode/{subject}/{target}_scores_targets.tsv",
        image_scores="results/decode/{subject}/{target}_scores_images.tsv",
    log:
        "logs/decode/{subject}_{target}.log",
    benchmark:
        "logs/benchmarks/decode/{subject}_{target}.tsv"
    wildcard_constraints:
        target="z|c",
    conda:
        "../../envs/torch.yaml"
    threads: GPU_THREADS
    resources:
        gpu=GPU,
        # X, Y, the Gram matrix and its eigenvectors per fold
        mem_mb=mem_from_input(4000, 3),
        runtime=120,
    params:
        roi=lambda w: config["decode"]["roi"][w.target],
        decode=plan.keys(config["decode"], plan.DECODE),
    script:
        "../scripts/decode.py"
