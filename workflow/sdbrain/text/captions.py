"""Captions written by BLIP's text decoder from image tokens: the true ones of a stimulus, or decoded from the brain.

The released recipe (``codes/caption/BLIP/decode_captions.py``; ``../shared/TECHPAPER.md``, A): each row of 226 x
768 tokens is given to the text decoder as its encoder states (every token attended), after the prompt
"a picture of " whose first token is replaced by the decoder's BOS ([DEC]) and whose trailing [SEP] is dropped;
beam search with 3 beams, 5 to 20 tokens, repetition penalty 1.5; the prompt is cut from the decoded text.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sdbrain.errors import ArgumentError
from sdbrain.text.blip import token_shape


@dataclass(frozen=True)
class Generation:
    """How BLIP writes a caption (the released recipe's values).

    Parameters
    ----------
    prompt : str
        The caption's start, removed from the result.
    num_beams, min_length, max_length : int
        Beam search and the caption's length in tokens (the prompt's included, as BLIP counts them).
    repetition_penalty : float
        transformers' penalty of a repeated token (1: none).
    batch_size : int
        Images captioned at a time.
    """

    prompt: str = "a picture of "
    num_beams: int = 3
    min_length: int = 5
    max_length: int = 20
    repetition_penalty: float = 1.5
    batch_size: int = 16

    def __post_init__(self):
        """Check the lengths and beams."""
        if not 1 <= self.min_length <= self.max_length:
            raise ArgumentError("min_length", f"{self.min_length} must be between 1 and max_length {self.max_length}")
        if self.num_beams < 1:
            raise ArgumentError("num_beams", f"{self.num_beams} must be at least 1")


def prompt_ids(tokenizer, prompt: str, n: int):
    """Return the prompt's token ids for ``n`` captions: [DEC] in place of [CLS], no trailing [SEP]."""
    import torch
    ids = torch.tensor(tokenizer(prompt).input_ids).repeat(n, 1)
    ids[:, 0] = tokenizer.bos_token_id
    return ids[:, :-1]


def write(model, tokenizer, tokens: np.ndarray, settings: Generation = Generation()) -> list[str]:
    """Caption each row of ``tokens`` ((n, 226 * d), the vision encoder's tokens, true or decoded).

    Returns one caption per row, without the prompt.
    """
    import torch
    config = model.config.vision_config
    n_tokens, width = token_shape(model)
    tokens = np.asarray(tokens, dtype=np.float32)
    if tokens.ndim != 2 or tokens.shape[1] != n_tokens * width:
        raise ArgumentError("tokens", f"expected rows of {n_tokens} x {width} = {n_tokens * width} values (BLIP's image "
                                      f"tokens at {config.image_size} px), got shape {tokens.shape}")
    captions = []
    with torch.no_grad():
        for start in range(0, len(tokens), settings.batch_size):
            states = torch.from_numpy(tokens[start:start + settings.batch_size]).reshape(-1, n_tokens, width)
            states = states.to(model.device, model.dtype)
            mask = torch.ones(states.shape[:2], dtype=torch.long, device=states.device)
            out = model.text_decoder.generate(
                input_ids=prompt_ids(tokenizer, settings.prompt, len(states)).to(states.device),
                encoder_hidden_states=states, encoder_attention_mask=mask, num_beams=settings.num_beams,
                min_length=settings.min_length, max_length=settings.max_length,
                repetition_penalty=settings.repetition_penalty, eos_token_id=tokenizer.sep_token_id,
                pad_token_id=tokenizer.pad_token_id)
            captions += [strip_prompt(tokenizer.decode(ids, skip_special_tokens=True), settings.prompt) for ids in out]
    return captions


def strip_prompt(text: str, prompt: str) -> str:
    """Cut the prompt from a decoded caption.

    BLIP cuts the prompt's length in characters; the tokenizer may have changed its spacing, so words are compared.
    """
    words, start = text.split(), prompt.split()
    return " ".join(words[len(start):] if words[:len(start)] == start else words)
