"""The toy NSD generator writes the real NSD layout and formats, deterministically."""
import json

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import scipy.io

from conftest import SMALL, small_grid, write_tree
from sdbrain.data import nsd
from sdbrain.toy import world


def test_layout_and_formats(toy_tree):
    grid = small_grid()
    n_trials = SMALL["n_sessions"] * SMALL["trials_per_session"]
    for subject in ("subj01", "subj02"):
        table = pd.read_csv(toy_tree.responses(subject), sep="\t")
        assert list(table.columns) == world.RESPONSE_COLUMNS and len(table) == n_trials
        assert table["73KID"].min() >= 1
        for session in range(1, SMALL["n_sessions"] + 1):
            with h5py.File(toy_tree.betas(subject, session), "r") as f:
                betas = f["betas"]
                assert betas.dtype == np.int16
                assert betas.shape == (SMALL["trials_per_session"],) + grid["mask"].shape
                assert not betas[:][:, ~grid["mask"]].any(), "voxels outside the brain must be 0"
        streams = nib.load(toy_tree.roi(subject, "streams"))
        assert streams.shape == grid["mask"].shape[::-1], "NIfTI holds (X, Y, Z)"
        volume = nsd.read_volume(toy_tree.roi(subject, "streams"))
        assert (volume[~grid["mask"]] == -1).all() and set(np.unique(volume[grid["mask"]])) == {0, 1, 5, 6}
    mat = scipy.io.loadmat(toy_tree.expdesign)
    assert mat["sharedix"].shape == (1, SMALL["n_shared"]) and mat["sharedix"].min() == 1
    with h5py.File(toy_tree.stimuli, "r") as f:
        bricks = f["imgBrick"]
        assert bricks.dtype == np.uint8 and bricks.shape[1:] == (32, 32, 3)
        n_images = bricks.shape[0]
    info = pd.read_csv(toy_tree.stim_info, index_col=0)
    assert len(info) == n_images and info["shared1000"].sum() == SMALL["n_shared"]
    captions = nsd.read_captions(toy_tree)
    assert len(captions) == n_images and all(len(c) == 5 for c in captions.values())
    coco = json.loads(toy_tree.captions("val").read_text())
    assert {"images", "annotations"} <= set(coco)


def test_captions_describe_the_scene():
    scene = world.Scene("star", "red", "blue", "large", 0.8, 0.2)
    texts = world.captions(scene)
    assert all("red" in t and "star" in t for t in texts)
    assert "top right" in texts[1] and "blue" in texts[0]
    image = world.render(scene, 32)
    assert tuple(image[2, 2]) == world.COLOURS["blue"], "corner shows the background"
    assert np.abs(image[6, 25].astype(int) - world.COLOURS["red"]).max() < 10, "object centre shows the object colour"


def test_forward_model_ground_truth(toy_tree):
    truth = np.load(toy_tree.root.parent / "truth" / "subj01.npz")
    grid = small_grid()
    cls, signal = truth["voxel_class"], truth["signal"]
    labels = grid["streams"][grid["mask"]]
    assert (cls[labels == 1] == 1).all() and (cls[labels == 5] == 2).all()
    assert np.allclose(signal[:, cls == 0], 0), "silent voxels carry no signal"
    assert np.allclose(signal[:, cls == 1].std(0), SMALL["amplitude"], rtol=1e-3)
    # ventral voxels follow semantics: identical attributes give identical responses
    scenes = pd.read_csv(toy_tree.root.parent / "truth" / "scenes.tsv", sep="\t").set_index("nsd_id")
    seen = scenes.loc[truth["signal_ids"]]
    key = seen[["shape", "colour", "background", "size"]].astype(str).agg("-".join, axis=1).to_numpy()
    dup = [np.flatnonzero(key == k) for k in np.unique(key) if (key == k).sum() > 1]
    assert dup, "the toy set should repeat some attribute combinations"
    for rows in dup:
        assert np.allclose(signal[rows][:, cls == 2], signal[rows[0]][cls == 2], atol=1e-5)


def test_generator_is_deterministic(tmp_path):
    a = write_tree(tmp_path / "a", n_sessions=1, n_subjects=1, n_shared=4, trials_per_session=20)
    b = write_tree(tmp_path / "b", n_sessions=1, n_subjects=1, n_shared=4, trials_per_session=20)
    with h5py.File(a.betas("subj01", 1)) as fa, h5py.File(b.betas("subj01", 1)) as fb:
        assert np.array_equal(fa["betas"][:], fb["betas"][:])
    assert a.responses("subj01").read_text() == b.responses("subj01").read_text()
    c = write_tree(tmp_path / "c", n_sessions=1, n_subjects=1, n_shared=4, trials_per_session=20, seed=99)
    with h5py.File(a.betas("subj01", 1)) as fa, h5py.File(c.betas("subj01", 1)) as fc:
        assert not np.array_equal(fa["betas"][:], fc["betas"][:])


NOVEL = {"share": 0.3, "pair": {"shape": "star", "colour": "purple"}, "background": "white"}


def held_out(scene) -> str:
    if scene.shape == "star" and scene.colour == "purple":
        return "pair"
    return "background" if scene.background == "white" else ""


def test_novel_arm_holds_combinations_out_of_training():
    n, n_shared = 400, 40
    original = world.sample_scenes(n, np.random.default_rng(0))
    assert sum(held_out(sc) != "" for sc in original[n_shared:]) > 20, "the generator draws the held-out ones"
    scenes, flags = world.hold_out(original, n_shared, NOVEL, seed=0)
    # training and familiar test scenes have none; the flagged test scenes each have theirs
    assert [held_out(sc) for sc in scenes] == flags
    assert flags[:12] == ["pair", "background"] * 6 and not any(flags[12:])
    for sc in scenes:
        assert sc.colour != sc.background
    # only colours, backgrounds and (flagged) shapes change; positions and sizes are the generator's
    assert [(sc.x, sc.y, sc.size) for sc in scenes] == [(sc.x, sc.y, sc.size) for sc in original]
    assert world.hold_out(original, n_shared, NOVEL, seed=0) == (scenes, flags)
    assert world.hold_out(original, n_shared, None, seed=0) == (original, [""] * n)


def test_novel_arm_in_the_truth_files(tmp_path):
    root = tmp_path / "toy"
    write_tree(root, n_sessions=2, n_subjects=1, n_shared=10, trials_per_session=20, novel=NOVEL)
    scenes = pd.read_csv(root / "truth" / "scenes.tsv", sep="\t", keep_default_na=False)
    assert scenes["novel"].tolist()[:3] == ["pair", "background", "pair"] and not scenes["novel"][3:].any()
    assert (scenes.loc[scenes["novel"] == "background", "background"] == "white").all()
