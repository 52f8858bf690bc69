"""Loading a Stable Diffusion pipeline from a local diffusers directory, and running it.

Later stages (z, c, z_c, U-Net features, reconstruction) build on ``load_pipeline``. Nothing here reaches a model
hub: every component is loaded from the directory (``local_files_only``) and must be present there.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from dataclasses import dataclass, fields
from pathlib import Path

from sdbrain.errors import ArgumentError, InputError

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
    """Load the Stable Diffusion pipeline in ``model_dir`` (DDIM scheduler) offline."""
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


# The pipeline runner that reconstruction (X_c, X_zc) and the diffusion features both use.

NOISE_STARTS = ("compvis", "diffusers")
# how X_z becomes an 8-bit image and reaches the model's resolution: rounding and PIL filter
RESAMPLE = {"compvis": ("truncate", "BICUBIC"), "lanczos": ("round", "LANCZOS")}


@dataclass(frozen=True)
class Sampling:
    """How the pipeline samples: DDIM settings, seeds and batches, and the released code's image-to-image details.

    Parameters
    ----------
    image_size : int
        The model's resolution (px).
    steps : int
        DDIM steps of a full run (image-to-image at strength s runs int(steps x s) of them).
    guidance_scale : float
        Classifier-free guidance against the empty caption.
    eta : float
        DDIM's eta (0: deterministic given the start latent).
    seed : int
        With each image's 73k id and the sample's index, seeds that sample's noise.
    batch_size : int
        Images (with all their samples) per pipeline call.
    n_samples : int
        Samples per image.
    noise_start : str
        'compvis' (the released code: noised one DDIM step above the first step denoised) or 'diffusers'.
    x_z_resample : str
        'compvis' (X_z truncated to 8 bits, PIL bicubic: the released code) or 'lanczos' (rounded, Lanczos).
    """

    image_size: int
    steps: int
    guidance_scale: float
    eta: float
    seed: int
    batch_size: int
    n_samples: int = 1
    noise_start: str = "compvis"
    x_z_resample: str = "compvis"

    def __post_init__(self):
        """Check ``noise_start`` and ``x_z_resample``."""
        if self.noise_start not in NOISE_STARTS:
            raise ArgumentError("noise_start", f"'{self.noise_start}' is not one of {', '.join(NOISE_STARTS)}")
        if self.x_z_resample not in RESAMPLE:
            raise ArgumentError("x_z_resample", f"'{self.x_z_resample}' is not one of {', '.join(RESAMPLE)}")

    @classmethod
    def pick(cls, values: Mapping, **changes) -> Sampling:
        """Take the settings that ``values`` names (e.g. config section reconstruct), with ``changes``."""
        return cls(**{**{f.name: values[f.name] for f in fields(cls) if f.name in values}, **changes})

    def resample(self) -> tuple[str, int]:
        """Return the rounding of X_z to 8 bits ('round' or 'truncate') and the PIL filter that resizes it."""
        return RESAMPLE[self.x_z_resample][0], resample_filter(self.x_z_resample)


def resample_filter(x_z_resample: str) -> int:
    """Return the PIL filter that ``x_z_resample`` ('compvis' or 'lanczos') resizes X_z with."""
    from PIL import Image
    return getattr(Image, RESAMPLE[x_z_resample][1])


def img2img_pipeline(pipe, noise_start: str):
    """Build an image-to-image pipeline sharing ``pipe``'s components, noising as ``noise_start`` says."""
    if noise_start == "compvis":
        from sdbrain.sd.compvis import CompVisStableDiffusionImg2ImgPipeline as runner_class
    else:
        from diffusers import StableDiffusionImg2ImgPipeline as runner_class
    return runner_class(**pipe.components)


def generate(pipe, c, ids, sampling: Sampling, init=None, strength: float = 1.0, latents: bool = False,
             capture=None, desc: str = "denoise"):
    """Run the pipeline: text-to-image, or image-to-image from the uint8 images ``init``.

    Image-to-image takes z of ``init``, noises it to ``strength`` and denoises with DDIM conditioned on the rows
    of ``c`` (classifier-free guidance against the empty caption), ``sampling.n_samples`` samples per image.

    Parameters
    ----------
    pipe : StableDiffusionPipeline
        From ``load_pipeline``.
    c : array
        (n, tokens x width) text embeddings, one row per image.
    ids : array of int
        The images' 73k ids (their seeds).
    sampling : Sampling
        DDIM settings, seeds, batches.
    init : array, optional
        (n, H, W, 3) uint8 start images (image-to-image); text-to-image where None.
    strength : float
        Image-to-image noise level in (0, 1]; ``sampling.steps`` x ``strength`` must be at least 1.
    latents : bool
        Return the final latents z_c instead of images.
    capture : diffusion.Capture, optional
        Told of each batch by ``start(n)`` and called after each step by ``on_step_end``.

    Returns
    -------
    array
        (n, n_samples, size, size, 3) uint8 images, or with ``latents`` (n, n_samples, values) float32.
    """
    import numpy as np
    import torch
    from PIL import Image
    from tqdm import tqdm

    from sdbrain.sd.features import embed_captions, image_seed, resize

    size, n_samples, batch = sampling.image_size, sampling.n_samples, sampling.batch_size
    if init is not None and int(sampling.steps * strength) < 1:
        raise ArgumentError("strength", f"strength {strength} with {sampling.steps} steps leaves no denoising step "
                            "(steps x strength must be at least 1)")
    with torch.no_grad():
        uncond = embed_captions(pipe, [""])
        embeds = torch.from_numpy(c).reshape(-1, *c_shape(pipe)).to(pipe.text_encoder.device, pipe.text_encoder.dtype)
        runner = img2img_pipeline(pipe, sampling.noise_start) if init is not None else pipe
        runner.set_progress_bar_config(disable=True)
        if init is not None:
            init = resize(init, size, sampling.resample()[1])
        out = None
        # a batch is ``batch`` images with all their samples
        for start in tqdm(range(0, len(ids), batch), desc=desc, unit="batch"):
            chunk = [(row, int(ids[row]), s) for row in range(start, min(start + batch, len(ids))) for s in range(n_samples)]
            rows = [r for r, _, _ in chunk]
            gens = [torch.Generator("cpu").manual_seed(image_seed(sampling.seed, i, s)) for _, i, s in chunk]
            kwargs = dict(prompt_embeds=embeds[rows], negative_prompt_embeds=uncond.expand(len(chunk), -1, -1),
                          num_inference_steps=sampling.steps, guidance_scale=sampling.guidance_scale,
                          eta=sampling.eta, generator=gens, output_type="latent" if latents else "np")
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
