"""The toy BLIP captioner, trained from scratch on the toy generator's scenes and captions.

It has BLIP's structure (a ViT image encoder, a BERT text decoder with cross-attention) at toy size.

The decoded-text method reads a captioner's image tokens and writes captions from tokens decoded from the brain.
On NSD that is BLIP (``sdbrain.text.blip``); in the toy world it is this model, saved as a transformers
``BlipForConditionalGeneration`` folder with its own BERT tokenizer (the toy captions' words), so the workflow loads
both the same way. It learns the canonical phrasing "a picture of a <size> <colour> <shape> on a <background>
background" with BLIP's objective: the prompt "a picture of " starts every caption, [DEC] replaces [CLS], and the
prompt's tokens are not scored (BLIP's captioning fine-tune).
"""
from __future__ import annotations

import json
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

from sdbrain.text import blip, captions
from sdbrain.toy import world

PROMPT = "a picture of "
SPECIAL = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def canonical(scene: world.Scene) -> str:
    """Return the caption the captioner learns: the phrasing that names shape, colour, size and background."""
    return f"{PROMPT}a {scene.size} {scene.colour} {scene.shape} on a {scene.background} background"


def vocabulary() -> list[str]:
    """Every word of the toy captions (all five phrasings) and of the prompt."""
    places = ["top", "middle", "bottom", "left", "centre", "right"]
    words = {*PROMPT.split(), *world.SHAPES, *world.COLOURS, *world.SIZES, *places, "a", "on", "background", "in",
             "the", "with", "that", "is", "at", "against"}
    return sorted(words)


def build_tokenizer(folder: Path):
    """BLIP's tokenizer at toy size: a BERT WordPiece vocabulary of the toy words, [DEC] as its bos."""
    from transformers import BertTokenizer
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "vocab.txt").write_text("\n".join(SPECIAL + vocabulary()) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), model_max_length=32)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    return tokenizer


def build_model(tokenizer, params: dict):
    """Build a BlipForConditionalGeneration of the toy size in ``params`` (image_size, patch_size, width, layers)."""
    from transformers import BlipForConditionalGeneration
    width, layers = params["width"], params["layers"]
    heads = max(1, width // 32)
    # trained from scratch, the position and CLS embeddings start at std 0.02 as the other weights do (BLIP's vision
    # config draws them at 1e-10, meant for weights that are loaded, not trained)
    vision = {"patch_size": params["patch_size"], "hidden_size": width, "intermediate_size": 2 * width,
              "num_hidden_layers": layers, "num_attention_heads": heads, "initializer_range": 0.02}
    text = {"vocab_size": len(tokenizer), "hidden_size": width, "encoder_hidden_size": width,
            "intermediate_size": 2 * width, "num_hidden_layers": layers, "num_attention_heads": heads,
            "max_position_embeddings": 32, "bos_token_id": tokenizer.bos_token_id,
            "sep_token_id": tokenizer.sep_token_id, "eos_token_id": tokenizer.sep_token_id,
            "pad_token_id": tokenizer.pad_token_id}
    return BlipForConditionalGeneration(blip.config(params["image_size"], vision=vision, text=text))


def batch_targets(tokenizer, texts: list[str]) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """input_ids ([DEC] first), attention mask and labels (the prompt and padding not scored) of captions."""
    encoded = tokenizer(texts, padding="longest", return_tensors="pt")
    ids, mask = encoded.input_ids.clone(), encoded.attention_mask
    ids[:, 0] = tokenizer.bos_token_id
    labels = ids.masked_fill(mask == 0, -100)
    labels[:, :len(tokenizer(PROMPT).input_ids) - 1] = -100  # [DEC] and the prompt's words
    return ids, mask, labels


def named_attributes(caption: str) -> dict[str, str | None]:
    """Return the shape, colour and background a caption names (None where it names none)."""
    words = caption.split()
    shape = next((w for w in words if w in world.SHAPES), None)
    colours = [w for w in words if w in world.COLOURS]
    background = None
    if "background" in words and words.index("background") > 0 and words[words.index("background") - 1] in world.COLOURS:
        background = words[words.index("background") - 1]
    return {"shape": shape, "colour": colours[0] if colours else None, "background": background}


def attribute_accuracy(scenes: list[world.Scene], texts: list[str]) -> dict[str, float]:
    """Per attribute, the share of captions that name the scene's value."""
    named = [named_attributes(t) for t in texts]
    return {head: float(np.mean([n[head] == getattr(s, head) for s, n in zip(scenes, named)]))
            for head in ("shape", "colour", "background")}


def optimise(parameters, lr: float, steps: int, step_loss, log, name: str) -> float:
    """Run ``steps`` steps of AdamW (one-cycle schedule peaking at ``lr``) on ``step_loss(step)``; return the last loss."""
    parameters = list(parameters)
    optimiser = torch.optim.AdamW(parameters, lr=lr, weight_decay=0.01)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=lr, total_steps=steps, pct_start=0.1)
    for step in range(1, steps + 1):
        loss = step_loss(step)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == steps:
            log(f"{name} step {step}/{steps}: loss {loss.item():.4f}")
    return float(loss.item())


def training_scenes(n: int, step: int, params: dict, rng: np.random.Generator) -> list[world.Scene]:
    """Fresh generator scenes for one pre-training step; for the first ``one_colour_steps`` all in one pair.

    Shape first, then colour: a ViT trained from scratch on every colour pair at once hardly learns the shapes (its
    patches mix the shape's outline with 30 pairs of colours), while on one pair it learns them in a few hundred
    steps and then carries them over to the other pairs.
    """
    scenes = world.sample_scenes(n, rng)
    if step <= params["one_colour_steps"]:
        colour, background = params["one_colour"]
        scenes = [replace(s, colour=colour, background=background) for s in scenes]
    return scenes


def pretrain_vision(model, params: dict, rng: np.random.Generator, log=print) -> float:
    """Pre-train the image encoder to tell the scenes' shapes; return its held-out accuracy.

    BLIP's ViT starts from ImageNet-trained weights; the toy one starts from a classifier of the toy scenes' shapes
    (read out of the mean of its patch tokens), trained ``pretrain_steps`` steps at ``pretrain_lr``, its first
    ``one_colour_steps`` on one colour pair; the read-out is dropped afterwards. Colours, backgrounds and sizes it
    learns in the captioning: read-outs of them beside the shape's held the shape at 42 %.
    """
    vision, size = model.vision_model, params["image_size"]
    head = torch.nn.Linear(params["width"], len(world.SHAPES))

    def logits(scenes):
        pixels = blip.pixels(world.render_all(scenes, size), size)
        return head(vision(pixel_values=pixels).last_hidden_state[:, 1:].mean(1))

    def truth(scenes):
        return torch.tensor([world.SHAPES.index(s.shape) for s in scenes])

    def shape_loss(scenes):
        return torch.nn.functional.cross_entropy(logits(scenes), truth(scenes))

    optimise([*vision.parameters(), *head.parameters()], params["pretrain_lr"], params["pretrain_steps"],
             lambda step: shape_loss(training_scenes(params["batch"], step, params, rng)), log, "image encoder")
    held_out = world.sample_scenes(params["n_eval"], np.random.default_rng([params["seed"], 14]))
    with torch.no_grad():
        return float((logits(held_out).argmax(1) == truth(held_out)).float().mean())


def train(out_dir: str | Path, params: dict, log=print) -> dict:
    """Train the toy captioner and save it (model and tokenizer) in ``out_dir``; return its training record.

    ``params``: seed, threads, image_size, patch_size, width, layers, batch, n_eval; the image encoder's
    pre-training (pretrain_steps, pretrain_lr, one_colour_steps, one_colour: ``pretrain_vision``), then the
    captioning (steps, lr) of the whole model. Every step renders fresh scenes (another seed than the toy NSD's).
    """
    out_dir = Path(out_dir)
    torch.manual_seed(params["seed"])
    torch.set_num_threads(params.get("threads", 2))
    tokenizer = build_tokenizer(out_dir)
    model = build_model(tokenizer, params)
    size, steps, batch = params["image_size"], params["steps"], params["batch"]
    rng = np.random.default_rng([params["seed"], 12])
    start, model = time.time(), model.train()
    pretrained = pretrain_vision(model, params, rng, log)
    log(f"image encoder: held-out shape accuracy of its read-out {pretrained:.3f}")

    def caption_loss(step):
        scenes = world.sample_scenes(batch, rng)
        ids, mask, labels = batch_targets(tokenizer, [canonical(s) for s in scenes])
        pixels = blip.pixels(world.render_all(scenes, size), size)
        return model(pixel_values=pixels, input_ids=ids, attention_mask=mask, labels=labels).loss

    final_loss = optimise(model.parameters(), params["lr"], steps, caption_loss, log, "captioner")
    model.eval()
    held_out = world.sample_scenes(params["n_eval"], np.random.default_rng([params["seed"], 13]))
    rendered = world.render_all(held_out, size)
    written = captions.write(model, tokenizer, blip.image_tokens(model, rendered), captions.Generation(prompt=PROMPT))
    record = {"seed": params["seed"], "minutes": (time.time() - start) / 60, "final_loss": final_loss,
              "held_out_accuracy": attribute_accuracy(held_out, written), "image_encoder_shape_accuracy": pretrained,
              "examples": written[:5],
              "parameters": sum(p.numel() for p in model.parameters()), "params": params}
    model.save_pretrained(out_dir)
    tokenizer.save_pretrained(out_dir)
    (out_dir / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    log(f"captioner: held-out attribute accuracy {record['held_out_accuracy']}")
    return record
