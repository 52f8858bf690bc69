"""Loading a Stable Diffusion pipeline from a local diffusers directory, offline.

Later stages (z, c, z_c, U-Net features, reconstruction) build on ``load_pipeline``.
Nothing here reaches a model hub: offline mode is forced and every component must
be present in the directory.
"""
from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from . import hardware
from .errors import InputError

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

COMPONENTS = ("vae", "text_encoder", "tokenizer", "unet", "scheduler")

# SD v1.4's noise schedule and DDIM settings (its scheduler_config.json, with DDIMScheduler's
# defaults for the keys it omits): the settings the paper's reconstructions and features used.
SD14_DDIM = {"num_train_timesteps": 1000, "beta_schedule": "scaled_linear", "beta_start": 0.00085, "beta_end": 0.012,
             "clip_sample": False, "set_alpha_to_one": False, "steps_offset": 1, "prediction_type": "epsilon",
             "timestep_spacing": "leading", "rescale_betas_zero_snr": False}


def scheduler_differences(config) -> list[str]:
    """Each setting of a scheduler config that differs from SD v1.4's DDIM, as 'key value (SD v1.4: value)'."""
    from diffusers import DDIMScheduler
    effective = DDIMScheduler.from_config(config).config  # what the pipeline runs with
    return [f"{key} {effective[key]!r} (SD v1.4: {value!r})" for key, value in SD14_DDIM.items()
            if (abs(effective[key] - value) > 1e-12 if isinstance(value, float) else effective[key] != value)]


def check_model_dir(model_dir: str | Path) -> Path:
    """Raise a one-line InputError unless ``model_dir`` holds a diffusers SD pipeline."""
    model_dir = Path(model_dir)
    if not model_dir.is_dir():
        raise InputError(f"model_dir '{model_dir}' is not a directory (a local Stable Diffusion pipeline in diffusers format is expected)")
    index = model_dir / "model_index.json"
    if not index.exists():
        raise InputError(f"model_dir '{model_dir}': no model_index.json (not a diffusers pipeline directory)")
    listed = json.loads(index.read_text())
    missing = [c for c in COMPONENTS if c not in listed or not (model_dir / c).is_dir() or not any((model_dir / c).iterdir())]
    if missing:
        raise InputError(f"model_dir '{model_dir}': missing component(s) {missing}")
    return model_dir


def load_pipeline(model_dir: str | Path, device: str = "cpu", dtype=None):
    """The Stable Diffusion pipeline in ``model_dir`` (DDIM scheduler), loaded offline."""
    import torch
    from diffusers import DDIMScheduler, StableDiffusionPipeline

    model_dir = check_model_dir(model_dir)
    dtype = dtype or (torch.float16 if device.startswith("cuda") else torch.float32)
    pipe = StableDiffusionPipeline.from_pretrained(model_dir, dtype=dtype, local_files_only=True,
                                                   safety_checker=None, feature_extractor=None,
                                                   requires_safety_checker=False)
    if len(pipe.tokenizer) == 0 or pipe.tokenizer.vocab_size == 0:
        raise InputError(f"model_dir '{model_dir}': tokenizer has an empty vocabulary")
    differences = scheduler_differences(pipe.scheduler.config)
    if differences:
        logging.getLogger("sdbrain").warning("model_dir '%s': scheduler differs from SD v1.4's DDIM settings: %s",
                                             model_dir, "; ".join(differences))
    pipe.scheduler = DDIMScheduler.from_config(pipe.scheduler.config)
    pipe.set_progress_bar_config(disable=True)
    return pipe.to(device)


def summary(pipe):
    """Components of a pipeline with their classes and sizes, and the latent shape of z."""
    import pandas as pd

    rows = []
    for name in COMPONENTS:
        part = getattr(pipe, name)
        n = sum(p.numel() for p in part.parameters()) if hasattr(part, "parameters") else 0
        rows.append({"component": name, "class": type(part).__name__, "parameters": n, "detail": ""})
    image = pipe.vae.config.sample_size
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    rows.append({"component": "z", "class": "latent", "parameters": 0,
                 "detail": f"{pipe.vae.config.latent_channels}x{image // factor}x{image // factor} at {image}px"})
    rows.append({"component": "c", "class": "text embedding", "parameters": 0,
                 "detail": f"{pipe.tokenizer.model_max_length}x{pipe.text_encoder.config.hidden_size}"})
    differences = scheduler_differences(pipe.scheduler.config)
    rows.append({"component": "schedule", "class": "DDIM settings", "parameters": 0,
                 "detail": ("differs from SD v1.4: " + "; ".join(differences)) if differences else "as SD v1.4"})
    return pd.DataFrame(rows)


def device(name: str = "auto", key: str = "device") -> str:
    """'auto' -> 'cuda' when torch can use a GPU, else 'cpu', unless the job was given a GPU
    (then one line naming config key ``key`` and the driver; ``hardware.cuda_or_cpu``)."""
    return hardware.cuda_or_cpu(name, key)
