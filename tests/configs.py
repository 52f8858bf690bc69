"""Reduced toy configurations for whole-workflow tests (keep CI well under 30 minutes)."""
import copy

# Two subjects and every rule of the toy DAG, at toy-of-the-toy sizes, with the random
# model (the trained one works at 64 px and would make each job slower).
TINY = {
    "subjects": ["subj01", "subj02"],
    "sessions": [1, 2],
    "model_dir": "results/toy/sd_random",
    "toy": {"enabled": True, "n_subjects": 2, "n_sessions": 3, "trials_per_session": 30, "n_shared": 6,
            "shared_repeats": 3, "train_repeats": 2, "image_size": 32,
            "model": {"image_size": 32, "vae_channels": [8, 16], "unet_channels": [16, 32], "text_width": 32}},
    # the random model's U-Net has two down and two up blocks
    "features": {"z_size": 24, "batch_size": 16, "n_chunks": 2,
                 "unet_layers": {"down1": "down_blocks.0", "down2": "down_blocks.1", "mid": "mid_block",
                                 "up1": "up_blocks.0", "up2": "up_blocks.1"}},
    # one reconstruction job per subject and method (two chunks: test_workflow's chunked copy of this run)
    "reconstruct": {"image_size": 32, "strengths": [0.5], "steps": 2, "n_samples": 2, "batch_size": 4, "n_chunks": 1},
    "figures": {"n_images": 3},
    "encode": {"noise_levels": [0.5], "step_levels": [0.5], "pca_components": 16, "voxel_block": 20000},
    "flatmaps": {"height": 256},
    # method text with the shipped toy captioner (32 px); its BLIP decoder streamed in blocks of targets
    "text": {"enabled": True, "image_size": 32},
    # methods gan and gan_text with the shipped toy networks, a short iCNN, the features in float16; its first
    # layer's decoder streamed in blocks of targets as well
    "gan": {"enabled": True, "dtype": "float16", "icnn": {"n_iter": 10}},
    "decode": {"per_target": {"blip": {"memory_mb": 5}, "vgg19": {"memory_mb": 5}}},
}

# One subject, one chunk and no denoising-step spaces: 40 jobs that still pass through every stage
# (toy world, ingest, features, decoders, reconstruction, identification, encoding,
# joint models, flatmaps, figures), for the interrupt, determinism and SLURM tests.
MINI = copy.deepcopy(TINY)
MINI["subjects"] = ["subj01"]
MINI["toy"]["n_subjects"] = 1
MINI["encode"]["step_levels"] = []
MINI["features"]["n_chunks"] = 1  # chunked merging is covered by TINY
MINI["text"]["enabled"] = False
MINI["gan"]["enabled"] = False
