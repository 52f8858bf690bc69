"""Loading a Stable Diffusion pipeline from a local diffusers directory, and running it.

Later stages (z, c, z_c, U-Net features, reconstruction) build on ``load_pipeline``. Nothing here reaches a model
hub: every component is loaded from the directory (``local_files_only``) and must be present there.
"""
from __future__ import annotations

import json
import logging
from pathlib import Path

from sdbrain import devices
from sdbrain.errors import InputError

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


def latent_shape(pipe, size: int) -> tuple[int, int, int]:
    """(channels, height, width) of the latent z of a ``size`` px image (the VAE halves per block)."""
    factor = 2 ** (len(pipe.vae.config.block_out_channels) - 1)
    return (pipe.vae.config.latent_channels, size // factor, size // factor)


def c_shape(pipe) -> tuple[int, int]:
    """(tokens, width) of the text embedding c."""
    return (pipe.tokenizer.model_max_length, pipe.text_encoder.config.hidden_size)


def summary(pipe):
    """Components of a pipeline with their classes and sizes, and the latent shape of z."""
    import pandas as pd

    rows = []
    for name in COMPONENTS:
        part = getattr(pipe, name)
        n = sum(p.numel() for p in part.parameters()) if hasattr(part, "parameters") else 0
        rows.append({"component": name, "class": type(part).__name__, "parameters": n, "detail": ""})
    image = pipe.vae.config.sample_size
    rows.append({"component": "z", "class": "latent", "parameters": 0,
                 "detail": f"{'x'.join(map(str, latent_shape(pipe, image)))} at {image}px"})
    rows.append({"component": "c", "class": "text embedding", "parameters": 0,
                 "detail": "x".join(map(str, c_shape(pipe)))})
    differences = scheduler_differences(pipe.scheduler.config)
    rows.append({"component": "schedule", "class": "DDIM settings", "parameters": 0,
                 "detail": ("differs from SD v1.4: " + "; ".join(differences)) if differences else "as SD v1.4"})
    return pd.DataFrame(rows)


def device(name: str = "auto", key: str = "device") -> str:
    """'auto' -> 'cuda' when torch can use a GPU, else 'cpu', unless the job was given a GPU
    (then one line naming config key ``key`` and the driver; ``hardware.cuda_or_cpu``)."""
    return devices.cuda_or_cpu(name, key)


# The pipeline runner that reconstruction (X_c, X_zc) and the diffusion features both use.

class CompVisImg2Img:
    """Mixin for diffusers' image-to-image pipeline: noise the start latent one DDIM step above the
    first timestep denoised, as CompVis's ``DDIMSampler.stochastic_encode`` does (capped at the last
    training timestep; CompVis itself has no step above the first at strength 1)."""

    def prepare_latents(self, image, timestep, *args, **kwargs):
        step = self.scheduler.config.num_train_timesteps // self.scheduler.num_inference_steps
        timestep = (timestep + step).clamp(max=self.scheduler.config.num_train_timesteps - 1)
        return super().prepare_latents(image, timestep, *args, **kwargs)


def img2img_pipeline(pipe, noise_start: str = "diffusers"):
    """An image-to-image pipeline sharing ``pipe``'s components, noising as ``noise_start`` says."""
    from diffusers import StableDiffusionImg2ImgPipeline
    if noise_start == "compvis":
        runner_class = type("CompVisStableDiffusionImg2ImgPipeline", (CompVisImg2Img, StableDiffusionImg2ImgPipeline), {})
    else:
        runner_class = StableDiffusionImg2ImgPipeline
    return runner_class(**pipe.components)


# how X_z becomes an 8-bit image and reaches the model's resolution (``reconstruct.x_z_resample``)
RESAMPLE = {"compvis": ("truncate", "BICUBIC"), "lanczos": ("round", "LANCZOS")}


def x_z_resample(params: dict) -> tuple[str, int]:
    """The rounding of X_z to 8 bits and the PIL filter that resizes it, as ``params['x_z_resample']`` says."""
    from PIL import Image
    rounding, name = RESAMPLE[params.get("x_z_resample", "compvis")]
    return rounding, getattr(Image, name)


def run(pipe, c, ids, params: dict, init=None, strength: float = 1.0, strength_key: str = "reconstruct.strengths",
        latents: bool = False, capture=None, desc: str = "denoise"):
    """Text-to-image (``init`` None) or image-to-image from the uint8 images ``init``: z of ``init``, noise to
    ``strength``, DDIM denoising conditioned on the rows of ``c`` (classifier-free guidance against the
    empty caption), ``params['n_samples']`` samples per image.

    Returns (n, n_samples, size, size, 3) uint8 images, or with ``latents`` the final latents z_c as
    (n, n_samples, values) float32. ``capture`` (e.g. ``diffusion.Capture``) is told of each batch by
    ``start(n)`` and called after each step by ``on_step_end``. ``strength_key`` is the config key of
    ``strength`` for the error message.
    """
    import numpy as np
    import torch
    from PIL import Image
    from tqdm import tqdm

    from sdbrain.sd.features import embed_captions, image_seed, resize

    size, n_samples, batch = params["image_size"], params["n_samples"], params["batch_size"]
    if init is not None and int(params["steps"] * strength) < 1:
        raise InputError(f"config key '{strength_key}': strength {strength} with {params['steps']} steps "
                         "leaves no denoising step (steps x strength must be at least 1)")
    with torch.no_grad():
        uncond = embed_captions(pipe, [""])
        embeds = torch.from_numpy(c).reshape(-1, *c_shape(pipe)).to(pipe.text_encoder.device, pipe.text_encoder.dtype)
        runner = img2img_pipeline(pipe, params.get("noise_start", "compvis")) if init is not None else pipe
        runner.set_progress_bar_config(disable=True)
        if init is not None:
            init = resize(init, size, x_z_resample(params)[1])
        out = None
        # a batch is ``batch`` images with all their samples
        for start in tqdm(range(0, len(ids), batch), desc=desc, unit="batch"):
            chunk = [(row, int(ids[row]), s) for row in range(start, min(start + batch, len(ids))) for s in range(n_samples)]
            rows = [r for r, _, _ in chunk]
            gens = [torch.Generator("cpu").manual_seed(image_seed(params["seed"], i, s)) for _, i, s in chunk]
            kwargs = dict(prompt_embeds=embeds[rows], negative_prompt_embeds=uncond.expand(len(chunk), -1, -1),
                          num_inference_steps=params["steps"], guidance_scale=params["guidance_scale"], eta=params["eta"],
                          generator=gens, output_type="latent" if latents else "np")
            if capture is not None:
                capture.start(len(chunk))
                kwargs["callback_on_step_end"] = capture.on_step_end
            if init is None:
                images = runner(height=size, width=size, **kwargs).images
            else:
                images = runner(image=[Image.fromarray(init[r]) for r in rows], strength=strength, **kwargs).images
            if latents:
                images = images.float().cpu().numpy().reshape(len(chunk), -1)
            else:
                images = (np.clip(images, 0, 1) * 255).round().astype(np.uint8)
            if out is None:
                out = np.zeros((len(ids), n_samples) + images.shape[1:], dtype=images.dtype)
            for (row, _, s), image in zip(chunk, images):
                out[row, s] = image
    if out is None:  # no images
        out = np.zeros((0, n_samples, size, size, 3), dtype=np.uint8)
    return out
