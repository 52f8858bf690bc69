"""Stimulus features of Stable Diffusion: the image latent z and the caption embedding c.

z: the image resized to ``size`` (Lanczos), scaled to [-1, 1], VAE-encoded, then
multiplied by the VAE scaling factor (0.18215 for SD v1.4); the posterior is
sampled with a per-image seed (as the reference code does) or its mode is taken.
c: the text encoder's last hidden state (77 x width) of each caption, averaged over
the image's captions. Both are flattened to one row per image.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from sdbrain.errors import InputError


def image_seed(seed: int, nsd_id: int, sample: int = 0) -> int:
    """Return a seed for one image (and sample), independent of batch and chunk."""
    return int(np.random.SeedSequence([seed, int(nsd_id), sample]).generate_state(1)[0])


def generators(seed: int, ids, sample: int = 0, device="cpu") -> list[torch.Generator]:
    """Return one torch generator per 73k id, seeded by ``image_seed``: an image's noise ignores its batch."""
    return [torch.Generator(device).manual_seed(image_seed(seed, i, sample)) for i in ids]


def resize(images: np.ndarray, size: int, resample=Image.LANCZOS) -> np.ndarray:
    """Resize (n, H, W, 3) uint8 images to (n, size, size, 3) (Lanczos unless told otherwise)."""
    if images.shape[1:3] == (size, size):
        return images
    return np.stack([np.asarray(Image.fromarray(im).resize((size, size), resample)) for im in images])


def to_model_input(images: np.ndarray, device, dtype) -> torch.Tensor:
    """uint8 (n, H, W, 3) -> (n, 3, H, W) in [-1, 1]."""
    x = torch.from_numpy(images).permute(0, 3, 1, 2).to(device=device, dtype=torch.float32) / 127.5 - 1
    return x.to(dtype)


@torch.no_grad()
def encode_z(pipe, images: np.ndarray, ids, size: int, sample: bool, seed: int, batch_size: int) -> np.ndarray:
    """(n, latent values) z of each image."""
    vae = pipe.vae
    out = []
    for start in tqdm(range(0, len(images), batch_size), desc="z", unit="batch"):
        batch = resize(images[start:start + batch_size], size)
        dist = vae.encode(to_model_input(batch, vae.device, vae.dtype)).latent_dist
        z = dist.mean
        if sample:
            eps = torch.stack([torch.randn(z.shape[1:], generator=g) for g in generators(seed, ids[start:start + batch_size])])
            z = z + dist.std * eps.to(z.device, z.dtype)
        out.append((z * vae.config.scaling_factor).float().cpu().numpy().reshape(len(batch), -1))
    return np.concatenate(out)


@torch.no_grad()
def encode_texts(pipe, texts: list[str]):
    """Run the text encoder on ``texts`` padded to the tokenizer's length: its output (hidden states and pooled)."""
    tokens = pipe.tokenizer(texts, padding="max_length", max_length=pipe.tokenizer.model_max_length,
                            truncation=True, return_tensors="pt")
    return pipe.text_encoder(tokens.input_ids.to(pipe.text_encoder.device))


def embed_captions(pipe, texts: list[str]) -> torch.Tensor:
    """(len(texts), max_length, width) last hidden state of the text encoder."""
    return encode_texts(pipe, texts)[0]


@torch.no_grad()
def encode_c(pipe, captions: list[list[str]], ids, batch_size: int) -> np.ndarray:
    """(n, max_length * width) caption embeddings, averaged over each image's captions."""
    empty = [int(i) for i, texts in zip(ids, captions) if not texts]
    if empty:
        raise InputError(f"no caption for 73k id(s) {empty[:5]} (COCO annotations of nsd_stim_info_merged.csv's cocoId)")
    out = []
    for start in tqdm(range(0, len(captions), batch_size), desc="c", unit="batch"):
        batch = captions[start:start + batch_size]
        hidden = embed_captions(pipe, [t for texts in batch for t in texts]).float()
        counts = [len(texts) for texts in batch]
        means = [h.mean(0) for h in torch.split(hidden, counts)]
        out.append(torch.stack(means).cpu().numpy().reshape(len(batch), -1))
    return np.concatenate(out)

