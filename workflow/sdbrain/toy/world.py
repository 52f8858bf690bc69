"""The toy world: a miniature NSD written in the real file layout.

Stimuli are procedurally drawn scenes (one object of a given shape, colour, size
and position on a coloured background) with captions phrased from the same scene
description. Voxel responses follow a known forward model on the grid of
pycortex's demo subject S1: early-ROI voxels have retinotopic receptive fields
over the image, ventral-ROI voxels respond to the scene's semantic attributes,
other labelled voxels to a weaker mixture, and the rest are silent; Gaussian noise
is added to every trial. The noise-free signal of every voxel is kept in a side
file so that tests can compare what the pipeline recovers with the truth.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from pathlib import Path

import h5py
import numpy as np
import pandas as pd
import scipy.io
from PIL import Image, ImageDraw

from sdbrain.data.nsd import Layout
from sdbrain.maps.volumes import save_nifti

SHAPES = ("circle", "square", "triangle", "star")
COLOURS = {
    "red": (215, 40, 40), "green": (40, 170, 60), "blue": (40, 80, 220),
    "yellow": (240, 215, 40), "purple": (145, 55, 185), "white": (240, 240, 240),
}
SIZES = ("small", "large")
VOXEL_CLASSES = {0: "silent", 1: "early", 2: "ventral", 3: "mixed"}
RESPONSE_COLUMNS = ["SUBJECT", "SESSION", "RUN", "TRIAL", "73KID", "10KID", "TIME", "ISOLD", "ISCORRECT", "RT",
                    "CHANGEMIND", "MEMORYRECENT", "MEMORYFIRST", "ISOLDCURRENT", "ISCORRECTCURRENT",
                    "TOTAL1", "TOTAL2", "BUTTON", "MISSINGDATA"]


# --- scenes, images and captions -------------------------------------------------

@dataclass(frozen=True)
class Scene:
    """One toy scene: an object of a shape, colour and size at a position, on a coloured background."""

    shape: str
    colour: str
    background: str
    size: str
    x: float  # object centre, fraction of the width
    y: float  # object centre, fraction of the height

    @property
    def radius(self) -> float:
        """The object's radius, a fraction of the image size: 0.2 small, 0.32 large."""
        return 0.2 if self.size == "small" else 0.32

    def place(self) -> str:
        """Return where the object is on a 3 x 3 grid, as captions name it ('top left', ..., 'centre')."""
        row = ("top", "middle", "bottom")[min(int(self.y * 3), 2)]
        col = ("left", "centre", "right")[min(int(self.x * 3), 2)]
        return "centre" if (row, col) == ("middle", "centre") else f"{row} {col}"


def sample_scenes(n: int, rng: np.random.Generator) -> list[Scene]:
    """Scenes balanced over shapes, with colour != background."""
    names = list(COLOURS)
    scenes = []
    for i in range(n):
        colour, background = rng.choice(names, size=2, replace=False)
        size = SIZES[rng.integers(2)]
        r = 0.2 if size == "small" else 0.32
        x, y = rng.uniform(r, 1 - r, size=2)
        scenes.append(Scene(SHAPES[i % len(SHAPES)], str(colour), str(background), size, float(x), float(y)))
    order = rng.permutation(n)
    return [scenes[i] for i in order]


def _other(names: list[str], avoid: set[str], rng: np.random.Generator) -> str:
    return str(rng.choice([n for n in names if n not in avoid]))


def _familiar(scene: Scene, novel: dict, rng: np.random.Generator) -> Scene:
    """Return the scene without the held-out attribute combinations (another colour or background)."""
    pair, names = novel["pair"], list(COLOURS)
    if scene.shape == pair["shape"] and scene.colour == pair["colour"]:
        scene = replace(scene, colour=_other(names, {pair["colour"], scene.background}, rng))
    if scene.background == novel["background"]:
        scene = replace(scene, background=_other(names, {novel["background"], scene.colour}, rng))
    return scene


def _novel(scene: Scene, kind: str, novel: dict, rng: np.random.Generator) -> Scene:
    """Return the scene given a held-out combination: the held-out shape x colour pairing or background."""
    names = list(COLOURS)
    if kind == "pair":
        shape, colour = novel["pair"]["shape"], novel["pair"]["colour"]
        background = (scene.background if scene.background not in (colour, novel["background"])
                      else _other(names, {colour, novel["background"]}, rng))
        return replace(scene, shape=shape, colour=colour, background=background)
    colour = scene.colour if scene.colour != novel["background"] else _other(names, {novel["background"]}, rng)
    return replace(scene, colour=colour, background=novel["background"])


def hold_out(scenes: list[Scene], n_shared: int, novel: dict | None, seed: int) -> tuple[list[Scene], list[str]]:
    """Make the out-of-distribution arm: a shape x colour pairing and a background unseen in training.

    No training scene (and no familiar test scene) has the held-out shape x colour pairing or the
    held-out background; the first ``share`` of the shared (test) scenes get one of them, alternately.
    Returns the scenes and each one's flag ("" familiar, "pair", "background"). Its own random stream
    leaves every other draw as it was.
    """
    flags = [""] * len(scenes)
    if not novel or not novel.get("share"):
        return scenes, flags
    rng = np.random.default_rng([seed, 7])
    scenes = [_familiar(sc, novel, rng) for sc in scenes]
    for i in range(round(novel["share"] * n_shared)):
        flags[i] = ("pair", "background")[i % 2]
        scenes[i] = _novel(scenes[i], flags[i], novel, rng)
    return scenes, flags


def _polygon(scene: Scene, s: float) -> list[tuple[float, float]]:
    cx, cy, r = scene.x * s, scene.y * s, scene.radius * s
    if scene.shape == "square":
        h = r * 0.85
        return [(cx - h, cy - h), (cx + h, cy - h), (cx + h, cy + h), (cx - h, cy + h)]
    if scene.shape == "triangle":
        angles = np.deg2rad([-90, 30, 150])
        return [(cx + r * np.cos(a), cy + r * np.sin(a)) for a in angles]
    angles = np.deg2rad(np.arange(10) * 36 - 90)  # star: alternate outer and inner points
    radii = np.where(np.arange(10) % 2 == 0, r, r * 0.45)
    return [(cx + q * np.cos(a), cy + q * np.sin(a)) for q, a in zip(radii, angles)]


def render(scene: Scene, size: int, supersample: int = 4) -> np.ndarray:
    """(size, size, 3) uint8 image, drawn large and downsampled for smooth edges."""
    s = size * supersample
    image = Image.new("RGB", (s, s), COLOURS[scene.background])
    draw = ImageDraw.Draw(image)
    if scene.shape == "circle":
        cx, cy, r = scene.x * s, scene.y * s, scene.radius * s
        draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=COLOURS[scene.colour])
    else:
        draw.polygon(_polygon(scene, s), fill=COLOURS[scene.colour])
    return np.asarray(image.resize((size, size), Image.LANCZOS), dtype=np.uint8)


def render_all(scenes: list[Scene], size: int) -> np.ndarray:
    """(n, size, size, 3) uint8 images of ``scenes`` (``render``)."""
    return np.stack([render(s, size) for s in scenes])


def captions(scene: Scene) -> list[str]:
    """Five phrasings of the same scene, as COCO has about five captions per image."""
    sh, co, bg, sz, pl = scene.shape, scene.colour, scene.background, scene.size, scene.place()
    return [
        f"a {sz} {co} {sh} on a {bg} background",
        f"a {co} {sh} in the {pl} of the picture",
        f"{bg} background with a {co} {sh}",
        f"a picture of a {sz} {sh} that is {co}",
        f"a {co} {sh} at the {pl} against {bg}",
    ]


def attributes(scenes: list[Scene]) -> np.ndarray:
    """One-hot semantic attributes (shape, colour, background, size) of each scene."""
    names = list(COLOURS)
    out = np.zeros((len(scenes), len(SHAPES) + 2 * len(names) + len(SIZES)), dtype=np.float32)
    for i, sc in enumerate(scenes):
        out[i, SHAPES.index(sc.shape)] = 1
        out[i, len(SHAPES) + names.index(sc.colour)] = 1
        out[i, len(SHAPES) + len(names) + names.index(sc.background)] = 1
        out[i, len(SHAPES) + 2 * len(names) + SIZES.index(sc.size)] = 1
    return out


# --- the forward model -----------------------------------------------------------

def voxel_classes(streams: np.ndarray, mask: np.ndarray, rng: np.random.Generator, early=(1,), ventral=(5,),
                  mixed_fraction_unlabelled: float = 0.2) -> np.ndarray:
    """Class (see VOXEL_CLASSES) of every brain voxel, in the order of np.flatnonzero(mask)."""
    labels = streams[mask]
    cls = np.zeros(labels.size, dtype=np.int8)
    cls[(labels > 0)] = 3
    cls[(labels == 0) & (rng.random(labels.size) < mixed_fraction_unlabelled)] = 3
    cls[np.isin(labels, early)] = 1
    cls[np.isin(labels, ventral)] = 2
    return cls


def retinotopic_signal(images: np.ndarray, positions: np.ndarray, rng: np.random.Generator, grid: int = 16) -> np.ndarray:
    """(n_images, n_voxels) responses of Gaussian receptive fields placed by voxel position.

    ``positions`` (n_voxels, 2) in [0, 1] become RF centres (x, y); each voxel weights
    the colour channels of the image inside its RF.
    """
    small = np.stack([np.asarray(Image.fromarray(im).resize((grid, grid), Image.BILINEAR), dtype=np.float32) / 255 for im in images])
    small -= small.mean(0, keepdims=True)
    g = (np.arange(grid) + 0.5) / grid
    sigma = rng.uniform(0.08, 0.16, size=len(positions))
    dx = g[None, :] - positions[:, :1]
    dy = g[None, :] - positions[:, 1:]
    rf = np.exp(-(dy[:, :, None] ** 2 + dx[:, None, :] ** 2) / (2 * sigma[:, None, None] ** 2)).reshape(len(positions), -1)
    rf /= rf.sum(1, keepdims=True)
    colour = rng.dirichlet(np.ones(3), size=len(positions)).astype(np.float32)
    rf = rf.T.astype(np.float32)
    per_channel = np.stack([small[..., c].reshape(len(images), -1) @ rf for c in range(3)], 1)
    return (per_channel * colour.T[None]).sum(1)


def semantic_signal(attrs: np.ndarray, n_voxels: int, rng: np.random.Generator) -> np.ndarray:
    """Return (n_images, n_voxels) responses to the scenes' attributes.

    The centred one-hot attributes times random Gaussian weights, one column of weights per voxel.
    """
    weights = rng.normal(size=(attrs.shape[1], n_voxels)).astype(np.float32)
    return (attrs - attrs.mean(0)) @ weights


def standardise(signal: np.ndarray, amplitude: float) -> np.ndarray:
    """Centre each column and scale it to standard deviation ``amplitude`` (a constant column becomes 0)."""
    sd = signal.std(0, keepdims=True)
    sd[sd == 0] = 1
    return (signal - signal.mean(0, keepdims=True)) / sd * amplitude


def subject_signal(images, attrs, cls, zyx, rng, amplitude: float, mixed_amplitude: float) -> np.ndarray:
    """Noise-free responses (n_images, n_brain_voxels) in percent signal change."""
    signal = np.zeros((len(images), cls.size), dtype=np.float32)
    early = np.flatnonzero(cls == 1)
    # Retinotopy: RF x follows the voxel's left-right position, RF y its slice, within the early ROI.
    pos = zyx[early][:, [2, 0]].astype(np.float32)
    pos = (pos - pos.min(0)) / np.maximum(np.ptp(pos, 0), 1)
    signal[:, early] = standardise(retinotopic_signal(images, pos, rng), amplitude)
    ventral = np.flatnonzero(cls == 2)
    signal[:, ventral] = standardise(semantic_signal(attrs, ventral.size, rng), amplitude)
    mixed = np.flatnonzero(cls == 3)
    mix = rng.uniform(0, 1, size=mixed.size).astype(np.float32)
    retino = standardise(retinotopic_signal(images, rng.uniform(0.2, 0.8, size=(mixed.size, 2)), rng), 1)
    semantic = standardise(semantic_signal(attrs, mixed.size, rng), 1)
    signal[:, mixed] = standardise(mix * retino + (1 - mix) * semantic, mixed_amplitude)
    return signal


# --- the experiment -----------------------------------------------------------------

def design(n_subjects, n_sessions, trials_per_session, n_shared, shared_repeats, train_repeats, rng):
    """Stimulus ids (1-based) of every subject's trials, in acquisition order, and the shared ids."""
    n_trials = n_sessions * trials_per_session
    n_own = (n_trials - n_shared * shared_repeats) // train_repeats
    if n_own <= 0 or n_shared * shared_repeats + n_own * train_repeats != n_trials:
        raise ValueError("toy design: sessions x trials must equal shared x repeats + own images x train repeats")
    shared = np.arange(1, n_shared + 1)
    order = {}
    for s in range(n_subjects):
        own = n_shared + s * n_own + np.arange(1, n_own + 1)
        trials = np.concatenate([np.repeat(shared, shared_repeats), np.repeat(own, train_repeats)])
        order[f"subj{s + 1:02d}"] = trials[rng.permutation(trials.size)]
    return order, shared, n_shared + n_subjects * n_own


def responses_table(subject_index: int, ids: np.ndarray, trials_per_session: int, rng) -> pd.DataFrame:
    """Build a subject's behav/responses.tsv with NSD's columns: one row per trial, in acquisition order.

    ``ids`` are the trials' 73k ids. Sessions hold ``trials_per_session`` trials in 12 runs (one run where 12
    does not divide them); 10KID numbers the images by first showing, ISOLD marks repeats. The behavioural
    columns (ISCORRECT, RT, BUTTON, ...) are random filler: the workflow reads only SESSION and 73KID.
    """
    n = ids.size
    session = np.arange(n) // trials_per_session + 1
    within = np.arange(n) % trials_per_session
    runs_per_session = 12 if trials_per_session % 12 == 0 else 1
    per_run = trials_per_session // runs_per_session
    seen = set()
    is_old = []
    for i in ids:
        is_old.append(int(i in seen))
        seen.add(int(i))
    unique = {int(i): k + 1 for k, i in enumerate(dict.fromkeys(ids.tolist()))}
    table = pd.DataFrame({
        "SUBJECT": subject_index, "SESSION": session, "RUN": within // per_run + 1, "TRIAL": within % per_run + 1,
        "73KID": ids, "10KID": [unique[int(i)] for i in ids], "TIME": 738000 + np.arange(n) * 4e-5,
        "ISOLD": is_old, "ISCORRECT": (rng.random(n) < 0.8).astype(int), "RT": rng.uniform(400, 1500, n).round(1),
        "CHANGEMIND": 0, "MEMORYRECENT": np.nan, "MEMORYFIRST": np.nan, "ISOLDCURRENT": is_old,
        "ISCORRECTCURRENT": (rng.random(n) < 0.8).astype(int), "TOTAL1": 1, "TOTAL2": 0,
        "BUTTON": rng.integers(1, 3, n), "MISSINGDATA": 0,
    })
    return table[RESPONSE_COLUMNS]


def _nifti(volume_zyx: np.ndarray, affine: np.ndarray, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    save_nifti(volume_zyx, affine, path)


def write_toy_nsd(root: Path, truth_dir: Path, grid: dict, params: dict) -> None:
    """Write the whole toy NSD under ``root`` and the ground truth under ``truth_dir``."""
    rng = np.random.default_rng(params["seed"])
    layout = Layout(root)
    mask, streams, affine = grid["mask"].astype(bool), grid["streams"], grid["affine"]
    order, shared, n_stimuli = design(params["n_subjects"], params["n_sessions"], params["trials_per_session"],
                                      params["n_shared"], params["shared_repeats"], params["train_repeats"], rng)
    scenes, novel = hold_out(sample_scenes(n_stimuli, rng), params["n_shared"], params.get("novel"), params["seed"])
    images = render_all(scenes, params["image_size"])
    attrs = attributes(scenes)
    _write_stimuli(layout, scenes, images, shared, order)

    truth_dir.mkdir(parents=True, exist_ok=True)
    table = pd.DataFrame([{"nsd_id": i + 1, **sc.__dict__, "novel": flag} for i, (sc, flag) in enumerate(zip(scenes, novel))])
    table.to_csv(truth_dir / "scenes.tsv", sep="\t", index=False)
    brain = np.flatnonzero(mask)
    zyx = np.stack(np.unravel_index(brain, mask.shape), 1)
    for k, (subject, ids) in enumerate(order.items()):
        srng = np.random.default_rng([params["seed"], k + 1])
        cls = voxel_classes(streams, mask, srng)
        seen = np.unique(ids)
        signal = subject_signal(images[seen - 1], attrs[seen - 1], cls, zyx, srng, params["amplitude"], params["mixed_amplitude"])
        _write_subject(layout, subject, k + 1, ids, seen, signal, brain, mask, streams, affine, params, srng)
        np.savez_compressed(truth_dir / f"{subject}.npz", voxels=brain, voxel_class=cls, signal=signal, signal_ids=seen,
                 noise_sd=np.float32(params["noise_sd"]))


def _write_stimuli(layout: Layout, scenes, images, shared, order) -> None:
    layout.stimuli.parent.mkdir(parents=True, exist_ok=True)
    with h5py.File(layout.stimuli, "w") as f:
        f.create_dataset("imgBrick", data=images, chunks=(1,) + images.shape[1:])
    layout.expdesign.parent.mkdir(parents=True, exist_ok=True)
    scipy.io.savemat(layout.expdesign, {"sharedix": shared[None, :].astype(np.float64)})
    n = len(scenes)
    coco_id = 100000 + np.arange(n)
    split = np.where(np.arange(n) % 5 == 0, "val2017", "train2017")
    info = {"cocoId": coco_id, "cocoSplit": split, "cropBox": "(0, 0, 0, 0)", "loss": 0.0, "nsdId": np.arange(n),
            "flagged": False, "BOLD5000": False, "shared1000": np.isin(np.arange(1, n + 1), shared)}
    for s in range(8):
        ids = order.get(f"subj{s + 1:02d}")
        info[f"subject{s + 1}"] = np.isin(np.arange(1, n + 1), ids) if ids is not None else False
    pd.DataFrame(info).to_csv(layout.stim_info)
    for which in ("train", "val"):
        rows = np.flatnonzero(split == f"{which}2017")
        size = images.shape[1]
        coco = {"info": {"description": "toy NSD captions (COCO format)"}, "licenses": [],
                "images": [{"id": int(coco_id[i]), "file_name": f"{coco_id[i]:012d}.jpg", "height": size, "width": size} for i in rows],
                "annotations": [{"id": int(coco_id[i]) * 10 + j, "image_id": int(coco_id[i]), "caption": c}
                                for i in rows for j, c in enumerate(captions(scenes[i]))]}
        path = layout.captions(which)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(coco))


def _write_subject(layout, subject, index, ids, seen, signal, brain, mask, streams, affine, params, rng) -> None:
    responses = responses_table(index, ids, params["trials_per_session"], rng)
    layout.responses(subject).parent.mkdir(parents=True, exist_ok=True)
    responses.to_csv(layout.responses(subject), sep="\t", index=False, na_rep="NaN")
    _nifti(np.where(mask, streams, -1).astype(np.int16), affine, layout.roi(subject, "streams"))
    _nifti(mask.astype(np.int16), affine, layout.roi(subject, "brainmask"))
    ncsnr = np.zeros(mask.shape, dtype=np.float32)
    ncsnr.flat[brain] = signal.std(0) / params["noise_sd"]
    _nifti(ncsnr, affine, layout.ncsnr(subject))
    row = {int(i): r for r, i in enumerate(seen)}
    n_voxels = mask.size
    for session in range(1, params["n_sessions"] + 1):
        session_ids = responses.loc[responses["SESSION"] == session, "73KID"].to_numpy()
        path = layout.betas(subject, session)
        path.parent.mkdir(parents=True, exist_ok=True)
        with h5py.File(path, "w") as f:
            betas = f.create_dataset("betas", shape=(session_ids.size,) + mask.shape, dtype=np.int16,
                                     chunks=(1,) + mask.shape, compression="gzip", compression_opts=1)
            for t, i in enumerate(session_ids):
                beta = signal[row[int(i)]] + rng.normal(0, params["noise_sd"], size=brain.size).astype(np.float32)
                flat = np.zeros(n_voxels, dtype=np.int16)
                flat[brain] = np.clip(np.round(beta * 300), -32768, 32767).astype(np.int16)
                betas[t] = flat.reshape(mask.shape)
