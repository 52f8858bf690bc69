"""A Stable-Diffusion-structured pipeline with seeded random weights.

For tests and for the toy world until a trained toy model ships.

It has every component of SD v1.x (VAE, CLIP text encoder and tokenizer, U-Net with
cross-attention, DDIM scheduler) and is saved with ``save_pretrained``, so every
rule loads it through ``from_pretrained(local_dir)`` exactly as it loads SD v1.4.
"""
from __future__ import annotations

from pathlib import Path

import torch
from tokenizers.pre_tokenizers import ByteLevel

from sdbrain.data.io import atomic_dir

SPECIAL = ("<|startoftext|>", "<|endoftext|>")


def word_vocab(words) -> tuple[dict[str, int], list[tuple[str, str]]]:
    """Build a CLIP BPE vocabulary in which each given word can be built by merges.

    Every byte-level character (and its end-of-word form) is in the vocabulary, so
    any text tokenizes; merges build each word left to right. Without the merges
    a byte-level BPE would split every word into characters.
    """
    chars = sorted(ByteLevel.alphabet())
    vocab = {c: i for i, c in enumerate(chars + [c + "</w>" for c in chars])}
    merges: list[tuple[str, str]] = []
    for word in sorted(set(words)):
        pieces = list(word[:-1]) + [word[-1] + "</w>"]
        left = pieces[0]
        for right in pieces[1:]:
            merged = left + right
            if merged not in vocab:
                vocab[merged] = len(vocab)
                merges.append((left, right))
            left = merged
    for token in SPECIAL:
        vocab[token] = len(vocab)
    return vocab, merges


def build_tokenizer(words, max_length: int):
    """Build a CLIPTokenizer over ``word_vocab(words)`` whose texts are ``max_length`` tokens (SD: 77)."""
    from transformers import CLIPTokenizer
    vocab, merges = word_vocab(words)
    tokenizer = CLIPTokenizer(vocab=vocab, merges=merges)
    tokenizer.model_max_length = max_length  # not set by a hand-built tokenizer; SD uses 77
    return tokenizer


def build_vae(params: dict):
    """Build an AutoencoderKL with ``vae_channels`` (one 2x downsampling per level after the first)."""
    from diffusers import AutoencoderKL
    return AutoencoderKL(
        in_channels=3, out_channels=3, latent_channels=4,
        down_block_types=("DownEncoderBlock2D",) * len(params["vae_channels"]),
        up_block_types=("UpDecoderBlock2D",) * len(params["vae_channels"]),
        block_out_channels=tuple(params["vae_channels"]), layers_per_block=1,
        norm_num_groups=8, sample_size=params["image_size"])


def build_text_encoder(tokenizer, params: dict):
    """Build a CLIP text encoder of width ``text_width`` over ``tokenizer``'s vocabulary."""
    from transformers import CLIPTextConfig, CLIPTextModel
    return CLIPTextModel(CLIPTextConfig(
        vocab_size=len(tokenizer), hidden_size=params["text_width"], intermediate_size=2 * params["text_width"],
        num_hidden_layers=params["text_layers"], num_attention_heads=4, max_position_embeddings=params["max_length"],
        bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id))


def build_random_pipeline(out_dir: str | Path, words, params: dict, seed: int = 0) -> None:
    """Save a tiny SD-structured pipeline with random weights (seeded) under ``out_dir``."""
    from diffusers import DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel

    torch.manual_seed(seed)
    tokenizer = build_tokenizer(words, params["max_length"])
    vae = build_vae(params)
    text_encoder = build_text_encoder(tokenizer, params)
    unet = UNet2DConditionModel(
        sample_size=params["image_size"] // 2 ** (len(params["vae_channels"]) - 1),
        in_channels=4, out_channels=4, block_out_channels=tuple(params["unet_channels"]), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D", "DownBlock2D"), up_block_types=("UpBlock2D", "CrossAttnUpBlock2D"),
        cross_attention_dim=params["text_width"], attention_head_dim=8, norm_num_groups=8)
    # SD v1.x's scheduler settings.
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear",
                              clip_sample=False, set_alpha_to_one=False, steps_offset=1)
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    save_pipeline(pipe, out_dir)


def save_pipeline(pipe, out_dir: str | Path) -> None:
    """``save_pretrained`` into a temporary directory, then move it in place (no partial model)."""
    with atomic_dir(out_dir) as tmp:
        pipe.save_pretrained(tmp)
