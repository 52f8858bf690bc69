"""The shipped toy model (resources/toy_sd): offline loading, VAE quality, text
conditioning and image-to-image, each measured with numbers.

Attributes of generated images are read by the shipped attribute scorer
(resources/toy_scorer.pt), which was trained on generator renders only and is checked
here on renders it never saw.
"""
from __future__ import annotations

import os
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import ROOT
from sdbrain.sd import features, pipeline
from sdbrain.toy import score as toy_score
from sdbrain.toy import train as toy_train
from sdbrain.toy import world

MODEL = ROOT / "resources/toy_sd"
SCORER = ROOT / "resources/toy_scorer.pt"
GEN = pipeline.Sampling(image_size=64, steps=20, guidance_scale=5.0, eta=0.0, n_samples=1, seed=7, batch_size=24)


@pytest.fixture(scope="module")
def pipe():
    torch.manual_seed(0)
    return pipeline.load_pipeline(MODEL)


@pytest.fixture(scope="module")
def scorer():
    return toy_score.load(SCORER)


def test_loads_offline_with_no_cache_and_no_network(tmp_path):
    """A fresh process, offline, with an empty hub cache and every socket connection refused."""
    code = (
        "import socket, sys\n"
        "def refuse(*a, **k): raise OSError('network call attempted')\n"
        "socket.socket.connect = refuse; socket.create_connection = refuse\n"
        f"sys.path.insert(0, {str(ROOT / 'workflow')!r})\n"
        "from sdbrain.sd.pipeline import load_pipeline\n"
        f"pipe = load_pipeline({str(MODEL)!r})\n"
        "print(len(pipe.tokenizer), pipe.tokenizer.model_max_length, pipe.scheduler.config.prediction_type)\n")
    env = {**os.environ, "HF_HOME": str(tmp_path / "empty_hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    n_tokens, max_length, prediction = result.stdout.split()
    assert int(n_tokens) > 600 and int(max_length) == 77 and prediction == "v_prediction"


def test_scorer_is_accurate_on_unseen_renders(scorer):
    scenes, images = toy_score.scenes_and_images(400, seed=12345, size=64)
    acc = toy_score.accuracy(scorer, images, scenes)
    assert min(acc.values()) >= 0.95, acc


def test_vae_reconstructs_unseen_toy_images_above_25_db(pipe):
    _, images = toy_score.scenes_and_images(200, seed=4321, size=64)
    held = torch.from_numpy(images).permute(0, 3, 1, 2).contiguous()
    assert toy_train.psnr(pipe.vae, held) >= 25.0


def test_text_to_image_follows_held_out_captions(pipe, scorer):
    """48 captions of unseen scenes, balanced over shapes (chance: 1/6 colours, 1/4 shapes)."""
    scenes, texts = toy_train.held_out_captions(48, seed=2024)
    c = features.embed_captions(pipe, texts).numpy().reshape(len(texts), -1)
    images = pipeline.generate(pipe, c, np.arange(len(texts)), GEN)[:, 0]
    acc = toy_score.accuracy(scorer, images, scenes, texts)  # background: the 29 captions that name it
    # measured with the shipped weights: colour 0.94, background 1.0, shape 0.48 (0.94, 1.0, 0.51
    # on the 200 captions of training.json). Shape is the model's weak attribute: the bound
    # keeps it well above chance (0.25) on this small set.
    assert acc["colour"] >= 0.8 and acc["background"] >= 0.8, acc
    assert acc["shape"] >= 0.35, acc
    assert toy_score.named(scenes, texts)["background"].sum() == 29


def object_centre(image: np.ndarray) -> np.ndarray:
    """(x, y) centroid of the pixels that differ from the border's median colour."""
    img = image.astype(np.float32)
    border = np.concatenate([img[0], img[-1], img[:, 0], img[:, -1]])
    mask = np.abs(img - np.median(border, 0)).sum(-1) > 60
    ys, xs = np.nonzero(mask)
    return np.array([xs.mean(), ys.mean()]) if xs.size else np.array([np.nan, np.nan])


def test_image_to_image_keeps_layout_and_adopts_the_new_caption(pipe, scorer):
    """At strength 0.8 the object stays where it was; its colour and the background follow the new caption."""
    rng = np.random.default_rng(99)
    scenes = world.sample_scenes(24, rng)
    images = world.render_all(scenes, 64)
    colours = list(world.COLOURS)
    new = []
    for s in scenes:  # a new object colour and background, the same shape, size and place
        colour, background = rng.choice([c for c in colours if c not in (s.colour, s.background)], 2, replace=False)
        new.append(world.Scene(s.shape, str(colour), str(background), s.size, s.x, s.y))
    c = features.embed_captions(pipe, [world.captions(s)[0] for s in new]).numpy().reshape(len(new), -1)
    out = pipeline.generate(pipe, c, np.arange(len(new)), GEN, init=images, strength=0.8)[:, 0]
    moved = np.linalg.norm(np.stack([object_centre(o) - object_centre(i) for o, i in zip(out, images)]), axis=1)
    # baseline: how far apart the objects of two different source images are
    shuffled = np.linalg.norm(np.stack([object_centre(images[(k + 1) % len(images)]) - object_centre(images[k])
                                        for k in range(len(images))]), axis=1)
    # measured: the object moves 9.6 px (median) against 16.6 px between two source images:
    # the coarse layout is kept only in part at strength 0.8 (80 % of the steps are redrawn)
    assert np.nanmedian(moved) < 0.75 * np.nanmedian(shuffled), (moved, shuffled)
    acc, old = toy_score.accuracy(scorer, out, new), toy_score.accuracy(scorer, out, scenes)
    # measured: colour and background follow the new caption in 23 of 24 images, the old in none
    assert acc["colour"] >= 0.8 and acc["background"] >= 0.8, acc
    assert old["colour"] <= 0.2 and old["background"] <= 0.2, old
