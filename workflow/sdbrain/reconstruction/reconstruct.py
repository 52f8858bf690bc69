"""Reconstruction from decoded features.

z only:  decoded z -> VAE decoder -> X_z.
c only:  text-to-image from the decoded c alone -> X_c.
z_c:     X_z resized to the model's resolution -> VAE encoder -> noise to strength s
         -> DDIM denoising conditioned on the decoded c (classifier-free guidance,
         unconditional = empty caption) -> z_c -> VAE decoder -> X_zc.
Two details follow either the authors' released code (CompVis's DDIM sampler) or
diffusers (``pipeline.Sampling``):
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

import re

import numpy as np

from sdbrain.errors import InputError
from sdbrain.sd import pipeline


def check_features(pipe, z: np.ndarray | None, c: np.ndarray | None, z_size: int, source: str = "decoded features") -> None:
    """Check that decoded features have the sizes this model produces (InputError otherwise)."""
    z_shape, c_shape = pipeline.latent_shape(pipe, z_size), pipeline.c_shape(pipe)
    if z is not None and z.shape[1] != int(np.prod(z_shape)):
        raise InputError(f"{source}: z has {z.shape[1]} values per image but this model's z at {z_size} px has "
                         f"{int(np.prod(z_shape))} ({'x'.join(map(str, z_shape))})")
    if c is not None and c.shape[1] != int(np.prod(c_shape)):
        raise InputError(f"{source}: c has {c.shape[1]} values per image but this model's text embedding has "
                         f"{int(np.prod(c_shape))} ({'x'.join(map(str, c_shape))})")


def png_name(nsd_id: int, sample: int) -> str:
    """Return the file of one reconstruction in a chunk's folder: '<73k id>_<sample>.png'."""
    return f"{int(nsd_id)}_{int(sample)}.png"


PNG_NAME = re.compile(r"(\d+)_(\d+)\.png")


def parse_png_name(name: str) -> tuple[int, int]:
    """(73k id, sample) of a reconstruction's file name (``png_name``'s inverse)."""
    match = PNG_NAME.fullmatch(name)
    if match is None:
        raise InputError(f"{name}: not a reconstruction's file name (<73k id>_<sample>.png)")
    return int(match[1]), int(match[2])


def to_uint8(x, rounding: str = "round") -> np.ndarray:
    """(n, 3, H, W) tensor in [-1, 1] -> (n, H, W, 3) uint8, rounded or truncated (CompVis: ``astype(np.uint8)``)."""
    import torch
    x = (x.float().clamp(-1, 1) + 1) * 127.5
    x = (x.round() if rounding == "round" else x.floor()).to(torch.uint8)
    return x.permute(0, 2, 3, 1).cpu().numpy()


def decode_z(pipe, z: np.ndarray, z_size: int, batch_size: int, rounding: str = "round") -> np.ndarray:
    """X_z: (n, z_size, z_size, 3) uint8 images from flattened z."""
    import torch
    vae = pipe.vae
    shape = pipeline.latent_shape(pipe, z_size)
    out = []
    with torch.no_grad():
        for start in range(0, len(z), batch_size):
            latents = torch.from_numpy(z[start:start + batch_size]).reshape(-1, *shape).to(vae.device, vae.dtype)
            out.append(to_uint8(vae.decode(latents / vae.config.scaling_factor).sample, rounding))
    return np.concatenate(out)


def run(pipe, method: str, strength: float | None, ids, z, c, z_size: int, sampling: pipeline.Sampling) -> np.ndarray:
    """Reconstruct the images ``ids`` by ``method`` from their decoded ``z`` and ``c``.

    Parameters
    ----------
    method : str
        'z' (X_z), 'c' (X_c) or 'zc' (X_zc at ``strength``).
    z, c : arrays
        Decoded features, one row per image (None where the method does not use it).
    z_size : int
        The image size z was computed at (its latent's shape).
    sampling : pipeline.Sampling
        DDIM settings, samples, seeds, and the released code's details.

    Returns
    -------
    array
        (n, samples, size, size, 3) uint8 reconstructions; X_z is deterministic, so it has one sample.
    """
    from sdbrain.sd.features import resize  # torch: not for the manifest's job, which reads png_name here
    if method == "c":
        return pipeline.generate(pipe, c, ids, sampling, desc="reconstruct")
    rounding, resample = sampling.resample()
    x_z = decode_z(pipe, z, z_size, sampling.batch_size, rounding)
    if method == "z":
        return resize(x_z, sampling.image_size, resample)[:, None]
    return pipeline.generate(pipe, c, ids, sampling, init=x_z, strength=strength, desc="reconstruct")
