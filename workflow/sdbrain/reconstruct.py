"""Reconstruction from decoded features (SPEC section 3).

z only:  decoded z -> VAE decoder -> X_z.
c only:  text-to-image from the decoded c alone -> X_c.
z_c:     X_z resized to the model's resolution -> VAE encoder -> noise to strength s
         -> DDIM denoising conditioned on the decoded c (classifier-free guidance,
         unconditional = empty caption) -> z_c -> VAE decoder -> X_zc.
Two details follow either the authors' released code (CompVis's DDIM sampler) or
diffusers, by config:
- ``x_z_resample``: X_z becomes an 8-bit image by truncation and reaches the model's
  resolution by PIL's bicubic filter (``compvis``), or by rounding and Lanczos (``lanczos``).
- ``noise_start``: the start latent of image-to-image is noised to the DDIM timestep one
  step above the first one denoised (``compvis``: ``stochastic_encode`` to t_enc, then
  ``decode`` from t_enc - 1; with 50 steps and s = 0.8, noised to t = 801, denoised from
  781), or to that first timestep itself (``diffusers``).
Every (image, sample) pair draws its noise from its own generator seeded by the
image's 73k id and the sample index, so the noise of an image does not depend on
its batch or chunk. Chunks are made of whole batches (``batches.job_chunk``), so images are
bit-identical for any number of chunks; a different ``batch_size`` changes the
arithmetic's rounding only (measured: at most 1 of 255 levels, in about 5e-5 of
the values, on CPU).
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from .errors import InputError
from .features import c_shape, embed_captions, image_seed, latent_shape, resize


def check_features(pipe, z: np.ndarray | None, c: np.ndarray | None, z_size: int, source: str = "decoded features") -> None:
    """Decoded features must have the sizes this model produces."""
    if z is not None and z.shape[1] != int(np.prod(latent_shape(pipe, z_size))):
        raise InputError(f"{source}: z has {z.shape[1]} values per image but this model's z at {z_size} px has "
                         f"{int(np.prod(latent_shape(pipe, z_size)))} ({'x'.join(map(str, latent_shape(pipe, z_size)))})")
    if c is not None and c.shape[1] != int(np.prod(c_shape(pipe))):
        raise InputError(f"{source}: c has {c.shape[1]} values per image but this model's text embedding has "
                         f"{int(np.prod(c_shape(pipe)))} ({'x'.join(map(str, c_shape(pipe)))})")


RESAMPLE = {"compvis": ("truncate", Image.BICUBIC), "lanczos": ("round", Image.LANCZOS)}


def to_uint8(x: torch.Tensor, rounding: str = "round") -> np.ndarray:
    """(n, 3, H, W) in [-1, 1] -> (n, H, W, 3) uint8, rounded or truncated (CompVis: ``astype(np.uint8)``)."""
    x = (x.float().clamp(-1, 1) + 1) * 127.5
    x = (x.round() if rounding == "round" else x.floor()).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


@torch.no_grad()
def decode_z(pipe, z: np.ndarray, z_size: int, batch_size: int, rounding: str = "round") -> np.ndarray:
    """X_z: (n, z_size, z_size, 3) uint8 images from flattened z."""
    vae = pipe.vae
    shape = latent_shape(pipe, z_size)
    out = []
    for start in range(0, len(z), batch_size):
        latents = torch.from_numpy(z[start:start + batch_size]).reshape(-1, *shape).to(vae.device, vae.dtype)
        out.append(to_uint8(vae.decode(latents / vae.config.scaling_factor).sample, rounding))
    return np.concatenate(out)


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


def _embeds(pipe, c: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(c).reshape(-1, *c_shape(pipe)).to(pipe.text_encoder.device, pipe.text_encoder.dtype)


@torch.no_grad()
def generate(pipe, c: np.ndarray, ids, params: dict, init: np.ndarray | None = None, strength: float = 1.0,
             latents: bool = False, capture=None, desc: str = "reconstruct") -> np.ndarray:
    """(n, n_samples, size, size, 3) uint8: text-to-image (``init`` None) or image-to-image from ``init``.

    With ``latents`` the final latents z_c are returned instead, as (n, n_samples, values) float32.
    ``capture`` (``diffusion.Capture``) is told of each batch and called after each step.
    """
    size, n_samples, batch = params["image_size"], params["n_samples"], params["batch_size"]
    if init is not None and int(params["steps"] * strength) < 1:
        raise InputError(f"config key 'reconstruct.strengths': strength {strength} with {params['steps']} steps "
                         "leaves no denoising step (steps x strength must be at least 1)")
    uncond = embed_captions(pipe, [""])
    embeds = _embeds(pipe, c)
    runner = img2img_pipeline(pipe, params.get("noise_start", "compvis")) if init is not None else pipe
    runner.set_progress_bar_config(disable=True)
    if init is not None:
        init = resize(init, size, RESAMPLE[params.get("x_z_resample", "compvis")][1])
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


def run(pipe, method: str, strength: float | None, ids, z, c, z_size: int, params: dict) -> np.ndarray:
    """(n, samples, size, size, 3) uint8 reconstructions; z only is deterministic, so it has one sample."""
    if method == "c":
        return generate(pipe, c, ids, params)
    rounding, resample = RESAMPLE[params.get("x_z_resample", "compvis")]
    x_z = decode_z(pipe, z, z_size, params["batch_size"], rounding)
    if method == "z":
        return resize(x_z, params["image_size"], resample)[:, None]
    return generate(pipe, c, ids, params, init=x_z, strength=strength)

