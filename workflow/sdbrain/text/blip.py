"""BLIP as the released code uses it: the ViT-B image encoder's tokens at 240 px, through transformers.

The released recipe (``../shared/TECHPAPER.md``, A) runs the BLIP repository's ``blip_decoder(vit="base")`` with
the pre-trained checkpoint ``model_base_capfilt_large.pth`` (ViT-B at 224 px, CapFilt-L). Its feature is the
vision encoder's output after the final LayerNorm for an image resized with Lanczos to 240 x 240 and converted
with ``ToTensor`` only (no mean and std): 15 x 15 patches and the CLS token, 226 x 768 values. The checkpoint's
14 x 14 position embeddings are interpolated bicubically to 15 x 15 when the model is built (BLIP's
``interpolate_pos_embed``; the CLS token's is kept).

Here the same weights run as transformers' ``BlipForConditionalGeneration``. ``convert`` takes the original
``.pth`` (its key names as the BLIP repository writes them: ``visual_encoder.blocks.0.attn.qkv.weight``,
``text_decoder.bert.encoder.layer.0.crossattention.self.query.weight``, ...), keeps what ``blip_decoder`` loads
(the image encoder and the text decoder; the pre-training checkpoint also holds momentum encoders, a text encoder,
projections and queues), renames it to transformers' names, interpolates the position embeddings to the image
size, and writes a model folder that ``load`` reads strictly: every tensor present, none left over, each of the
architecture's shape. The vision LayerNorms keep BLIP's eps of 1e-6 (transformers' default is 1e-5).
"""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from sdbrain.data.io import atomic_dir
from sdbrain.errors import InputError

IMAGE_SIZE = 240  # the released recipe's input size: 15 x 15 patches of 16 px
PATCH = 16
# BLIP's tokenizer: bert-base-uncased with [DEC] (its bos) and [ENC] added
VOCAB_SIZE = 30524
# the original checkpoint's parts that blip_decoder loads; the rest of a pre-training checkpoint is not BLIP_Decoder's
KEPT = ("visual_encoder.", "text_decoder.")
# buffers the original state dict carries that transformers rebuilds itself
DROPPED = (re.compile(r"text_decoder\.bert\.embeddings\.position_ids$"),)
# original ViT name -> transformers' (applied in order to the part after "visual_encoder.")
VISION_NAMES = [(r"^cls_token$", "embeddings.class_embedding"),
                (r"^pos_embed$", "embeddings.position_embedding"),
                (r"^patch_embed\.proj\.", "embeddings.patch_embedding."),
                (r"^blocks\.(\d+)\.norm1\.", r"encoder.layers.\1.layer_norm1."),
                (r"^blocks\.(\d+)\.norm2\.", r"encoder.layers.\1.layer_norm2."),
                (r"^blocks\.(\d+)\.attn\.qkv\.", r"encoder.layers.\1.self_attn.qkv."),
                (r"^blocks\.(\d+)\.attn\.proj\.", r"encoder.layers.\1.self_attn.projection."),
                (r"^blocks\.(\d+)\.mlp\.", r"encoder.layers.\1.mlp."),
                (r"^norm\.", "post_layernorm.")]


def config(image_size: int = IMAGE_SIZE, vision: dict | None = None, text: dict | None = None):
    """Return the transformers ``BlipConfig`` of ``blip_decoder(vit="base")`` at ``image_size``.

    ``vision`` and ``text`` override entries (the tests' tiny models).
    """
    from transformers import BlipConfig
    vision_config = {"image_size": image_size, "patch_size": PATCH, "hidden_size": 768, "intermediate_size": 3072,
                     "num_hidden_layers": 12, "num_attention_heads": 12, "layer_norm_eps": 1e-6, **(vision or {})}
    text_config = {"vocab_size": VOCAB_SIZE, "hidden_size": 768, "encoder_hidden_size": vision_config["hidden_size"],
                   "intermediate_size": 3072, "num_hidden_layers": 12, "num_attention_heads": 12, **(text or {})}
    return BlipConfig(text_config=text_config, vision_config=vision_config)


def rename(key: str) -> str | None:
    """Return transformers' name of an original key that blip_decoder loads, else None (not BLIP_Decoder's)."""
    if key.startswith("text_decoder."):
        return None if any(p.match(key) for p in DROPPED) else key  # the BERT names are transformers' already
    if not key.startswith("visual_encoder."):
        return None
    rest = key[len("visual_encoder."):]
    for pattern, replacement in VISION_NAMES:
        if re.match(pattern, rest):
            return "vision_model." + re.sub(pattern, replacement, rest)
    return "vision_model." + rest  # an unknown vision key: reported by the strict check as left over


def interpolate_positions(pos_embed, grid: int):
    """Interpolate (1, 1 + g * g, d) position embeddings to (1, 1 + grid * grid, d).

    The patches' bicubically (align_corners False), the CLS token's kept, as BLIP's interpolate_pos_embed does.
    """
    import torch
    import torch.nn.functional as F
    n, d = pos_embed.shape[1] - 1, pos_embed.shape[2]
    old = int(round(n ** 0.5))
    if old * old != n:
        raise ValueError(f"position embeddings of {n} patches are not a square grid")
    if old == grid:
        return pos_embed
    patches = pos_embed[:, 1:].reshape(1, old, old, d).permute(0, 3, 1, 2)
    patches = F.interpolate(patches.float(), size=(grid, grid), mode="bicubic", align_corners=False)
    return torch.cat([pos_embed[:, :1], patches.permute(0, 2, 3, 1).reshape(1, grid * grid, d).to(pos_embed.dtype)], 1)


def read_original(path: str | Path) -> dict:
    """Read the state dict of an original BLIP checkpoint (its ``model`` entry, as BLIP's load_checkpoint does)."""
    import torch
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: BLIP checkpoint not found (model_base_capfilt_large.pth of the BLIP repository)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # a truncated download, or not a torch file at all
        raise InputError(f"{path}: not a readable torch checkpoint ({type(err).__name__})") from None
    if not isinstance(checkpoint, dict) or not isinstance(checkpoint.get("model"), dict):
        raise InputError(f"{path}: expected BLIP's checkpoint layout, a dict with the state dict under 'model'")
    return checkpoint["model"]


def convert(path: str | Path, out_dir: str | Path, image_size: int = IMAGE_SIZE, blip_config=None,
            tokenizer_dir: str | Path | None = None) -> Path:
    """Convert the original BLIP checkpoint ``path`` into a transformers folder ``out_dir`` (``load`` reads it).

    ``blip_config`` (default ``config(image_size)``) is the architecture; a tensor it wants that the checkpoint
    lacks, one of another shape, or a kept tensor it has no place for is an InputError naming the key.
    ``tokenizer_dir`` (e.g. the hub folder: BLIP's bert-base-uncased with [DEC] and [ENC]) gives the folder its
    tokenizer, which the original checkpoint does not carry.
    """
    from transformers import BlipForConditionalGeneration
    blip_config = blip_config or config(image_size)
    state, origin = {}, {}
    for key, value in read_original(path).items():
        name = rename(key)
        if name is not None:
            state[name], origin[name] = (interpolate_positions(value, blip_config.vision_config.image_size // PATCH)
                                         if key == "visual_encoder.pos_embed" else value), key
    model = BlipForConditionalGeneration(blip_config)
    check_state(model, state, path, origin)
    model.load_state_dict(state, strict=True)
    return _save(model, out_dir, tokenizer_dir)


def resize(model_dir: str | Path, out_dir: str | Path, image_size: int = IMAGE_SIZE) -> Path:
    """Write a BLIP folder (e.g. the hub's, at 384 px) at another image size: its position embeddings interpolated.

    The hub's ``Salesforce/blip-image-captioning-base`` holds the released checkpoint already taken from its 14 x 14
    grid to 24 x 24; from there to 15 x 15 is a second interpolation, not the released 14 -> 15 (``convert``).
    """
    import copy

    from transformers import BlipForConditionalGeneration
    source = load(model_dir)
    blip_config = copy.deepcopy(source.config)
    blip_config.vision_config.image_size = image_size
    state = source.state_dict()
    key = "vision_model.embeddings.position_embedding"
    state[key] = interpolate_positions(state[key], image_size // blip_config.vision_config.patch_size)
    model = BlipForConditionalGeneration(blip_config)
    check_state(model, state, model_dir)
    model.load_state_dict(state, strict=True)
    return _save(model, out_dir, model_dir)


def _save(model, out_dir: str | Path, tokenizer_dir: str | Path | None) -> Path:
    """Write the model (and the tokenizer of ``tokenizer_dir``) to ``out_dir`` whole or not at all."""
    out_dir = Path(out_dir)
    tokenizer = load_tokenizer(tokenizer_dir, model) if tokenizer_dir is not None else None
    with atomic_dir(out_dir) as partial:  # a failed write leaves no folder that load would read
        model.save_pretrained(partial)
        if tokenizer is not None:
            tokenizer.save_pretrained(partial)
    return out_dir


def check_state(model, state: dict, path, origin: dict | None = None) -> None:
    """Check for every tensor the model wants, of its shape, and nothing else: else one line naming the first key.

    ``origin`` maps a name to the checkpoint's own, for the tensors the model has no place for.
    """
    wanted = model.state_dict()
    missing = [k for k in wanted if k not in state]
    if missing:
        raise InputError(f"{path}: no tensor for {missing[0]} ({len(missing)} missing): not BLIP's ViT-B decoder")
    extra = [k for k in state if k not in wanted]
    if extra:
        first = (origin or {}).get(extra[0], extra[0])
        raise InputError(f"{path}: tensor {first} has no place in BLIP's ViT-B decoder ({len(extra)} left over)")
    for key, tensor in wanted.items():
        if tuple(state[key].shape) != tuple(tensor.shape):
            raise InputError(f"{path}: tensor {key} has shape {tuple(state[key].shape)}, the architecture wants "
                             f"{tuple(tensor.shape)}")


def load(model_dir: str | Path):
    """Read a converted (or hub) BLIP folder with transformers, every tensor required (no fresh initialisation)."""
    from transformers import BlipForConditionalGeneration
    model_dir = Path(model_dir)
    if not (model_dir / "config.json").is_file():
        raise InputError(f"{model_dir}: no BLIP model folder (config.json); convert the original checkpoint "
                         "with sdbrain-weights")
    model, info = BlipForConditionalGeneration.from_pretrained(model_dir, output_loading_info=True)
    if info["missing_keys"] or info["mismatched_keys"]:
        first = (info["missing_keys"] or [m[0] for m in info["mismatched_keys"]])[0]
        raise InputError(f"{model_dir}: tensor {first} is missing or of another shape")
    return model.eval()


def load_tokenizer(model_dir: str | Path, model=None):
    """Read a BLIP folder's tokenizer and check it.

    Its vocabulary must be the size of the model's (transformers may return a tokenizer of a few special tokens
    for a folder without its files) and its bos [DEC].
    """
    from transformers import AutoTokenizer
    try:
        tokenizer = AutoTokenizer.from_pretrained(model_dir)
    except (OSError, ValueError) as err:
        raise InputError(f"{model_dir}: no BLIP tokenizer ({err})") from None
    expected = model.config.text_config.vocab_size if model is not None else None
    if len(tokenizer) == 0 or (expected is not None and len(tokenizer) != expected):
        raise InputError(f"{model_dir}: its tokenizer has {len(tokenizer)} tokens, the model's text decoder "
                         f"{expected}: the folder's tokenizer files are missing or of another model")
    if tokenizer.bos_token != "[DEC]":
        raise InputError(f"{model_dir}: its tokenizer's bos token is {tokenizer.bos_token!r}, BLIP's is '[DEC]'")
    return tokenizer


def token_shape(model) -> tuple[int, int]:
    """Return the vision encoder's tokens per image (the CLS and the patches) and their width: (226, 768) at 240 px."""
    vision = model.config.vision_config
    return 1 + (vision.image_size // vision.patch_size) ** 2, vision.hidden_size


def pixels(images: np.ndarray, size: int = IMAGE_SIZE):
    """Prepare (n, H, W, 3) uint8 images as the released recipe feeds BLIP.

    Lanczos to size x size, then ToTensor only (values in [0, 1], no mean and std).
    """
    import torch
    from PIL import Image
    resized = [np.asarray(Image.fromarray(im).resize((size, size), Image.Resampling.LANCZOS)) for im in images]
    return torch.from_numpy(np.stack(resized)).permute(0, 3, 1, 2).float() / 255.0


def image_tokens(model, images: np.ndarray, batch_size: int = 16) -> np.ndarray:
    """Return the vision encoder's tokens after its final LayerNorm: (n, 226 * 768) float32 at 240 px.

    CLS first, then the patches row by row, for (n, H, W, 3) uint8 images at the model's image size.
    """
    import torch
    size = model.config.vision_config.image_size
    out = []
    with torch.no_grad():
        for start in range(0, len(images), batch_size):
            x = pixels(images[start:start + batch_size], size).to(model.device, model.dtype)
            out.append(model.vision_model(pixel_values=x).last_hidden_state.float().flatten(1).cpu().numpy())
    return np.concatenate(out)
