# The toy world: a miniature NSD on the grid of pycortex's demo subject, and a tiny
# Stable-Diffusion-structured model with random weights.


rule toy_grid:
    output:
        paths.TOY_GRID,
    log:
        "logs/toy/grid.log",
    benchmark:
        "logs/benchmarks/toy/grid.tsv"
    conda:
        "../../envs/maps.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        pycortex_dir=config["pycortex_dir"],
        subject=FLATMAPS["pycortex_subject"],
        xfm=FLATMAPS["xfm"],
        streams=config["toy"]["streams"],
    script:
        "../scripts/toy_grid.py"


rule toy_nsd:
    input:
        grid=paths.TOY_GRID,
    output:
        root=directory(config["nsd_root"] if TOY else paths.TOY_NSD),
        truth=directory(paths.TOY_TRUTH),
    log:
        "logs/toy/nsd.log",
    benchmark:
        "logs/benchmarks/toy/nsd.tsv"
    conda:
        "../../envs/data.yaml"
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        toy=plan.keys(config["toy"], plan.TOY_NSD_KEYS),
    script:
        "../scripts/toy_nsd.py"


rule toy_model:
    input:
        rules.toy_nsd.output.root,
    output:
        directory(paths.TOY_RANDOM_MODEL),
    log:
        "logs/toy/model.log",
    benchmark:
        "logs/benchmarks/toy/model.tsv"
    conda:
        "../../envs/torch.yaml"
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        model=config["toy"]["model"],
    script:
        "../scripts/toy_model.py"


# Not part of the default run: trains the toy model that resources/toy_sd ships
# (copy results/toy/sd_trained there to replace it).
rule train_toy_model:
    output:
        model=directory(paths.TOY_TRAINED_MODEL),
        scorer=paths.TOY_TRAINED_SCORER,
    log:
        "logs/toy/train_model.log",
    benchmark:
        "logs/benchmarks/toy/train_model.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["toy"]["train"].get("threads", 2)
    resources:
        mem_mb=8000,
        runtime=240,
    params:
        train=config["toy"]["train"],
    script:
        "../scripts/toy_train.py"


# Not part of the default run: trains the toy BLIP captioner that resources/toy_blip ships
# (copy results/toy/blip_trained there to replace it).
rule train_toy_captioner:
    output:
        directory(paths.TOY_TRAINED_CAPTIONER),
    log:
        "logs/toy/train_captioner.log",
    benchmark:
        "logs/benchmarks/toy/train_captioner.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["toy"]["captioner"].get("threads", 2)
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        captioner=config["toy"]["captioner"],
    script:
        "../scripts/toy_captioner.py"


# The toy GAN init's networks shipped in resources/toy_gan (not part of a run: ask for it by name)
rule train_toy_gan:
    output:
        directory(paths.TOY_TRAINED_GAN),
    log:
        "logs/toy/train_gan.log",
    benchmark:
        "logs/benchmarks/toy/train_gan.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: config["toy"]["gan"].get("threads", 2)
    resources:
        mem_mb=4000,
        runtime=60,
    params:
        gan=config["toy"]["gan"],
    script:
        "../scripts/toy_gan.py"
