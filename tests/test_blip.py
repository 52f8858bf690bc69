"""BLIP's original checkpoint converted for transformers: the key names and structure of the BLIP repository's
pre-training checkpoint (model_base_capfilt_large.pth), random values, a tiny ViT and BERT."""
import numpy as np
import pytest
import torch
import torch.nn.functional as F

from sdbrain.errors import ArgumentError, InputError
from sdbrain.text import blip

D, LAYERS, VOCAB, TEXT_POSITIONS, MLP = 32, 2, blip.VOCAB_SIZE, 512, 64
TINY = {"vision": {"hidden_size": D, "intermediate_size": MLP, "num_hidden_layers": LAYERS, "num_attention_heads": 2},
        "text": {"hidden_size": D, "intermediate_size": MLP, "num_hidden_layers": LAYERS, "num_attention_heads": 2,
                 "encoder_hidden_size": D}}


def original_state(seed: int = 0, grid: int = 14) -> dict:
    """The BLIP repository's names (models/vit.py VisionTransformer, models/med.py BertLMHeadModel, and the
    pre-training model's other parts), written out here, not derived from the converter."""
    g = torch.Generator().manual_seed(seed)
    shapes = {"visual_encoder.cls_token": (1, 1, D), "visual_encoder.pos_embed": (1, 1 + grid * grid, D),
              "visual_encoder.patch_embed.proj.weight": (D, 3, 16, 16), "visual_encoder.patch_embed.proj.bias": (D,),
              "visual_encoder.norm.weight": (D,), "visual_encoder.norm.bias": (D,)}
    for i in range(LAYERS):
        b = f"visual_encoder.blocks.{i}."
        shapes.update({b + "norm1.weight": (D,), b + "norm1.bias": (D,), b + "attn.qkv.weight": (3 * D, D),
                       b + "attn.qkv.bias": (3 * D,), b + "attn.proj.weight": (D, D), b + "attn.proj.bias": (D,),
                       b + "norm2.weight": (D,), b + "norm2.bias": (D,), b + "mlp.fc1.weight": (MLP, D),
                       b + "mlp.fc1.bias": (MLP,), b + "mlp.fc2.weight": (D, MLP), b + "mlp.fc2.bias": (D,)})
    t = "text_decoder.bert."
    shapes.update({t + "embeddings.word_embeddings.weight": (VOCAB, D),
                   t + "embeddings.position_embeddings.weight": (TEXT_POSITIONS, D),
                   t + "embeddings.LayerNorm.weight": (D,), t + "embeddings.LayerNorm.bias": (D,)})
    for i in range(LAYERS):
        b = f"{t}encoder.layer.{i}."
        for part in ("attention", "crossattention"):
            for name in ("self.query", "self.key", "self.value", "output.dense"):
                shapes.update({f"{b}{part}.{name}.weight": (D, D), f"{b}{part}.{name}.bias": (D,)})
            shapes.update({f"{b}{part}.output.LayerNorm.weight": (D,), f"{b}{part}.output.LayerNorm.bias": (D,)})
        shapes.update({b + "intermediate.dense.weight": (MLP, D), b + "intermediate.dense.bias": (MLP,),
                       b + "output.dense.weight": (D, MLP), b + "output.dense.bias": (D,),
                       b + "output.LayerNorm.weight": (D,), b + "output.LayerNorm.bias": (D,)})
    c = "text_decoder.cls.predictions."
    shapes.update({c + "bias": (VOCAB,), c + "transform.dense.weight": (D, D), c + "transform.dense.bias": (D,),
                   c + "transform.LayerNorm.weight": (D,), c + "transform.LayerNorm.bias": (D,),
                   c + "decoder.weight": (VOCAB, D), c + "decoder.bias": (VOCAB,)})
    # what blip_decoder does not load: momentum and text encoders, projections, ITM head, queues
    shapes.update({"visual_encoder_m.cls_token": (1, 1, D), "visual_encoder_m.blocks.0.attn.qkv.weight": (3 * D, D),
                   "text_encoder.bert.embeddings.word_embeddings.weight": (VOCAB, D), "vision_proj.weight": (16, D),
                   "text_proj.weight": (16, D), "itm_head.weight": (2, D), "image_queue": (16, 64),
                   "text_queue": (16, 64), "temp": ()})
    state = {k: torch.randn(s, generator=g) for k, s in shapes.items()}
    state[t + "embeddings.position_ids"] = torch.arange(TEXT_POSITIONS).expand((1, -1))  # a buffer med.py saves
    return state


def save(state: dict, path):
    torch.save({"model": state, "optimizer": {}, "epoch": 19}, path)
    return path


def tiny_config(image_size=blip.IMAGE_SIZE):
    return blip.config(image_size, **TINY)


def test_the_original_checkpoint_converts_and_loads_strictly(tmp_path):
    state = original_state()
    out = blip.convert(save(state, tmp_path / "model_base_capfilt_large.pth"), tmp_path / "blip", blip_config=tiny_config())
    model = blip.load(out)
    loaded = model.state_dict()
    assert model.config.vision_config.layer_norm_eps == 1e-6 and model.config.vision_config.image_size == 240
    # renamed, values unchanged
    v = "vision_model."
    assert torch.equal(loaded[v + "embeddings.class_embedding"], state["visual_encoder.cls_token"])
    assert torch.equal(loaded[v + "encoder.layers.1.self_attn.qkv.weight"], state["visual_encoder.blocks.1.attn.qkv.weight"])
    assert torch.equal(loaded[v + "encoder.layers.0.self_attn.projection.bias"], state["visual_encoder.blocks.0.attn.proj.bias"])
    assert torch.equal(loaded[v + "post_layernorm.weight"], state["visual_encoder.norm.weight"])
    key = "text_decoder.bert.encoder.layer.1.crossattention.self.value.weight"
    assert torch.equal(loaded[key], state[key])
    # 14 x 14 -> 15 x 15 position embeddings: bicubic on the grid (align_corners False), CLS's kept
    pos = loaded[v + "embeddings.position_embedding"]
    assert pos.shape == (1, 226, D) and torch.equal(pos[:, 0], state["visual_encoder.pos_embed"][:, 0])
    grid = state["visual_encoder.pos_embed"][0, 1:].T.reshape(1, D, 14, 14)
    expected = F.interpolate(grid, size=(15, 15), mode="bicubic", align_corners=False).reshape(D, 225).T
    assert torch.allclose(pos[0, 1:], expected, atol=1e-6)
    # the image tokens: CLS and 15 x 15 patches of 768 (here 32) values per image
    images = np.random.default_rng(0).integers(0, 256, (3, 100, 120, 3), dtype=np.uint8)
    tokens = blip.image_tokens(model, images, batch_size=2)
    assert tokens.shape == (3, 226 * D) and tokens.dtype == np.float32
    with torch.no_grad():
        one = model.vision_model(pixel_values=blip.pixels(images[2:])).last_hidden_state.flatten(1).numpy()
    assert np.allclose(tokens[2:], one, atol=1e-5)


def test_pixels_are_lanczos_resized_and_only_scaled():
    image = np.full((1, 50, 70, 3), 51, dtype=np.uint8)
    image[0, :, :, 1] = 255
    x = blip.pixels(image)
    assert x.shape == (1, 3, 240, 240)
    assert torch.allclose(x[0, 0], torch.tensor(0.2)) and torch.allclose(x[0, 1], torch.tensor(1.0))  # no mean/std


@pytest.mark.parametrize("edit, message", [
    (lambda s: s.pop("text_decoder.cls.predictions.bias"), "no tensor for text_decoder.cls.predictions.bias"),
    (lambda s: s.update({"visual_encoder.blocks.1.attn.qkv.weight": torch.zeros(3 * D, D + 1)}),
     r"tensor vision_model.encoder.layers.1.self_attn.qkv.weight has shape \(96, 33\), the architecture wants "
     r"\(96, 32\)"),
    (lambda s: s.update({"visual_encoder.blocks.0.attn.q_bias": torch.zeros(D)}),
     "tensor visual_encoder.blocks.0.attn.q_bias has no place in BLIP's ViT-B decoder"),
])
def test_a_missing_resized_or_foreign_tensor_is_refused_with_one_line(tmp_path, edit, message):
    state = original_state()
    edit(state)
    with pytest.raises(InputError, match=rf"model_base_capfilt_large.pth: {message}") as raised:
        blip.convert(save(state, tmp_path / "model_base_capfilt_large.pth"), tmp_path / "blip",
                     blip_config=tiny_config())
    assert "\n" not in str(raised.value) and not (tmp_path / "blip").exists()


def test_files_that_are_not_a_blip_checkpoint_are_refused(tmp_path):
    (tmp_path / "junk.pth").write_bytes(b"not a torch file")
    with pytest.raises(InputError, match="junk.pth: not a readable torch checkpoint"):
        blip.convert(tmp_path / "junk.pth", tmp_path / "out", blip_config=tiny_config())
    torch.save({"state_dict": {}}, tmp_path / "other.pth")
    with pytest.raises(InputError, match="other.pth: expected BLIP's checkpoint layout, a dict with the state dict "
                                         "under 'model'"):
        blip.convert(tmp_path / "other.pth", tmp_path / "out", blip_config=tiny_config())
    with pytest.raises(InputError, match="none.pth: BLIP checkpoint not found"):
        blip.convert(tmp_path / "none.pth", tmp_path / "out", blip_config=tiny_config())
    with pytest.raises(InputError, match="no BLIP model folder"):
        blip.load(tmp_path)


WORDS = ["a", "picture", "of", "red", "blue", "green", "circle", "square", "triangle", "on", "white", "black",
         "background", "the", "and", "with"]


def tiny_tokenizer(tmp_path):
    """A BERT tokenizer as BLIP makes it (bert-base-uncased's special tokens, [DEC] as bos), on a few words."""
    from transformers import BertTokenizer
    vocab = tmp_path / "vocab.txt"
    vocab.write_text("\n".join(["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]) + "\n")
    tokenizer = BertTokenizer(str(vocab), model_max_length=40)
    tokenizer.add_special_tokens({"bos_token": "[DEC]"})
    return tokenizer


def test_captions_from_image_tokens_equal_transformers_generate(tmp_path):
    """Captions written from given image tokens (as the decoded ones will be) equal transformers' own generate from
    the images, with the released settings: prompt 'a picture of ', 3 beams, 5-20 tokens, repetition penalty 1.5."""
    from transformers import BlipForConditionalGeneration

    from sdbrain.text import captions
    tokenizer = tiny_tokenizer(tmp_path)
    text = {**TINY["text"], "vocab_size": len(tokenizer), "bos_token_id": tokenizer.bos_token_id,
            "sep_token_id": tokenizer.sep_token_id, "pad_token_id": tokenizer.pad_token_id,
            "eos_token_id": tokenizer.sep_token_id}
    torch.manual_seed(0)
    model = BlipForConditionalGeneration(blip.config(64, vision=TINY["vision"], text=text)).eval()
    images = np.random.default_rng(1).integers(0, 256, (5, 48, 48, 3), dtype=np.uint8)
    settings = captions.Generation(batch_size=2)
    ours = captions.write(model, tokenizer, blip.image_tokens(model, images), settings)
    with torch.no_grad():
        ids = tokenizer([settings.prompt] * len(images), return_tensors="pt").input_ids
        out = model.generate(pixel_values=blip.pixels(images, 64), input_ids=ids, num_beams=3, min_length=5,
                             max_length=20, repetition_penalty=1.5)
    theirs = [tokenizer.decode(o, skip_special_tokens=True)[len(settings.prompt):] for o in out]
    assert ours == [t.strip() for t in theirs] and len(ours) == 5
    assert all(2 <= len(c.split()) <= 17 for c in ours)  # 5-20 tokens, less the 3 of the prompt and [DEC]
    with pytest.raises(ArgumentError, match=r"^argument 'tokens': expected rows of 17 x 32 = 544 values"):
        captions.write(model, tokenizer, np.zeros((2, 100), np.float32), settings)


def blip_tokenizer(folder):
    """A tokenizer the size of BLIP's: bert-base-uncased's 30,522 entries (placeholders past a few words) with
    [DEC] (bos) and [ENC] added, saved in ``folder``."""
    from transformers import BertTokenizer
    folder.mkdir(parents=True, exist_ok=True)
    words = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *WORDS]
    (folder / "vocab.txt").write_text("\n".join(words + [f"w{i}" for i in range(30522 - len(words))]) + "\n")
    tokenizer = BertTokenizer(str(folder / "vocab.txt"), model_max_length=512)
    tokenizer.add_special_tokens({"bos_token": "[DEC]", "additional_special_tokens": ["[ENC]"]})
    tokenizer.save_pretrained(folder)
    return tokenizer


def test_the_two_routes_to_240_px_differ_only_in_the_position_embeddings(tmp_path):
    """sdbrain-weights blip: the released checkpoint converted at 240 px (its 14 x 14 grid to 15 x 15) against the
    hub's conversion at 384 px (14 -> 24) resized to 240 (24 -> 15). Every other tensor is the same; the features
    of the same images differ through the position embeddings alone (benchmarks/blip_routes.py measures it at
    ViT-B size)."""
    from sdbrain import weights
    original = save(original_state(0), tmp_path / "model_base_capfilt_large.pth")
    hub = tmp_path / "hub"
    blip.convert(original, hub, 384, tiny_config(384))
    blip_tokenizer(hub)
    assert weights.main(["blip", str(tmp_path / "resized"), "--hub", str(hub), "--image-size", "240"]) == 0
    converted = weights.blip_folder(tmp_path / "converted", hub, original, 240, tiny_config(240))
    a, b = blip.load(converted), blip.load(tmp_path / "resized")
    assert blip.load_tokenizer(converted, a).bos_token == "[DEC]" and len(blip.load_tokenizer(converted, a)) == VOCAB
    position = "vision_model.embeddings.position_embedding"
    sa, sb = a.state_dict(), b.state_dict()
    assert sa[position].shape == sb[position].shape == (1, 226, D)
    assert all(torch.equal(sa[k], sb[k]) for k in sa if k != position)
    assert torch.equal(sa[position][:, 0], sb[position][:, 0]) and not torch.allclose(sa[position], sb[position])
    images = np.random.default_rng(2).integers(0, 256, (3, 240, 240, 3), dtype=np.uint8)
    fa, fb = blip.image_tokens(a, images), blip.image_tokens(b, images)
    assert fa.shape == fb.shape == (3, 226 * D) and not np.allclose(fa, fb)


def test_a_folder_without_its_tokenizer_or_with_another_is_refused(tmp_path):
    hub = blip.convert(save(original_state(0), tmp_path / "o.pth"), tmp_path / "hub", 240, tiny_config())
    with pytest.raises(InputError, match=r"hub: no BLIP tokenizer|hub: its tokenizer has \d+ tokens, the model.s text decoder 30524"):
        blip.load_tokenizer(hub, blip.load(hub))
    tiny_tokenizer(tmp_path).save_pretrained(hub)
    with pytest.raises(InputError, match=r"hub: its tokenizer has 22 tokens, the model's text decoder 30524"):
        blip.load_tokenizer(hub, blip.load(hub))
