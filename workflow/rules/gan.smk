# The GAN init (methods gan and gan_text; docs/gan.md): VGG19's features of every stimulus,
# decoded per subject and layer (rule decode, targets vgg19-<layer>, from decode.roi.vgg19),
# and per test image an iCNN image from the decoded features (rule icnn: method gan).
# Method gan_text is rule reconstruct's image-to-image from these images with the decoded caption's c.

GAN_LAYERS = config["gan"]["layers"]


rule vgg19_features:
    input:
        nsd_tree(),
        encoder=config["gan"]["encoder_dir"],
        stimuli=paths.STIMULI,
    output:
        **paths.vgg19_features(GAN_LAYERS),
    log:
        "logs/features/vgg19.log",
    benchmark:
        "logs/benchmarks/features/vgg19.tsv"
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        # the network and one batch; the features are written to disk as they come
        mem_mb=8000,
        runtime=480,
    params:
        nsd_root=lambda wildcards: config["nsd_root"],
        gan=plan.keys(config["gan"], ("layers", "channel_order", "dtype", "batch_size")),
        device=config["features"]["device"],
    script:
        "../scripts/vgg19_features.py"


rule icnn:
    input:
        **paths.decoded_vgg19(GAN_LAYERS),
        encoder=config["gan"]["encoder_dir"],
        generator=config["gan"]["generator_dir"],
    output:
        directory(paths.reconstruction_chunk("gan")),
    log:
        "logs/reconstruct/{subject}_gan_chunk{chunk}.log",
    benchmark:
        "logs/benchmarks/reconstruct/{subject}_gan_chunk{chunk}.tsv"
    wildcard_constraints:
        chunk=r"\d+",
    conda:
        "../../envs/torch.yaml"
    threads: gpu_threads
    resources:
        gpu=gpu,
        mem_mb=mem_from_input(6000, 2),
        runtime=480,
    params:
        gan=plan.keys(config["gan"], ("layers", "channel_order", "seed", "icnn")),
        reconstruct=plan.keys(config["reconstruct"], ("image_size", "x_z_resample", "n_chunks", "batch_size", "device")),
    script:
        "../scripts/icnn.py"
