"""The toy BLIP captioner (sdbrain.toy.captioner): its objective, its captions parsed, a training run that loads as
BLIP does, and the shipped model (resources/toy_blip) on scenes it never saw."""
import json

import numpy as np

from conftest import ROOT
from sdbrain.text import blip
from sdbrain.toy import captioner, world


def load_tokenizer(folder):
    from transformers import BertTokenizer
    tokenizer = BertTokenizer.from_pretrained(folder)
    # transformers 5 may give an empty vocabulary for a folder it cannot read: check it
    assert len(tokenizer) == len(captioner.SPECIAL) + len(captioner.vocabulary()) + 1
    return tokenizer


def test_captions_name_attributes_as_parsed():
    assert captioner.named_attributes("a small red star on a blue background") == {
        "shape": "star", "colour": "red", "background": "blue"}
    assert captioner.named_attributes("a green circle in the top left") == {
        "shape": "circle", "colour": "green", "background": None}
    scene = world.Scene("square", "white", "purple", "large", 0.5, 0.5)
    assert captioner.canonical(scene) == "a picture of a large white square on a purple background"
    assert captioner.attribute_accuracy([scene], ["a large white circle on a purple background"]) == {
        "shape": 0.0, "colour": 1.0, "background": 1.0}


def test_training_writes_a_folder_that_loads_as_blip(tmp_path):
    """The training code path at toy-of-the-toy size (a few steps): a model and tokenizer folder that loads strictly
    and its record."""
    params = {"seed": 0, "threads": 1, "n_images": 100, "image_size": 32, "patch_size": 8, "width": 32, "layers": 1,
              "steps": 3, "batch": 8, "lr": 1e-3, "n_eval": 4}
    record = captioner.train(tmp_path / "blip", params, log=lambda *_: None)
    model, tokenizer = blip.load(tmp_path / "blip"), load_tokenizer(tmp_path / "blip")
    assert model.config.vision_config.image_size == 32 and tokenizer.bos_token == "[DEC]"
    assert set(record["held_out_accuracy"]) == {"shape", "colour", "background"} and len(record["examples"]) == 4
    assert json.loads((tmp_path / "blip/training.json").read_text())["params"] == params


def test_the_prompt_is_not_scored(tmp_path):
    """BLIP's captioning objective: [DEC] in place of [CLS]; the prompt's tokens and padding carry no loss."""
    tokenizer = captioner.build_tokenizer(tmp_path)
    ids, mask, labels = captioner.batch_targets(tokenizer, ["a picture of a small red star on a blue background",
                                                            "a picture of a large white circle"])
    assert ids[0, 0] == tokenizer.bos_token_id
    assert (labels[:, :4] == -100).all()  # [DEC] a picture of
    assert labels[0, 4] == tokenizer.convert_tokens_to_ids("a") and (labels[1][mask[1] == 0] == -100).all()
    assert (labels[0, 4:][mask[0, 4:] == 1] != -100).all()  # the caption itself is scored


def test_the_shipped_captioner_names_colour_and_background_of_unseen_scenes():
    """resources/toy_blip, loaded as the workflow loads a BLIP folder, captions 200 renders of scenes it never saw
    (another seed) with the released generation settings. It names the colour and the background of nearly every
    one; the shape of about 2 in 3 (chance: 1 in 4), short of the 90 % issue #34 asks for: it tells circles and
    squares apart but mostly names stars and triangles by their size."""
    from sdbrain.text import captions
    folder = ROOT / "resources/toy_blip"
    model = blip.load(folder)
    tokenizer = blip.load_tokenizer(folder, model)
    scenes = world.sample_scenes(200, np.random.default_rng([7, 31]))
    images = np.stack([world.render(s, model.config.vision_config.image_size) for s in scenes])
    written = captions.write(model, tokenizer, blip.image_tokens(model, images), captions.Generation())
    accuracy = captioner.attribute_accuracy(scenes, written)
    print(accuracy)
    assert accuracy["colour"] >= 0.9 and accuracy["background"] >= 0.9
    assert 0.55 <= accuracy["shape"] < 0.9
    rounds = [s.shape in ("circle", "square") for s in scenes]
    assert captioner.attribute_accuracy([s for s, r in zip(scenes, rounds) if r],
                                        [w for w, r in zip(written, rounds) if r])["shape"] >= 0.8
