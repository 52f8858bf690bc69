"""The Natural Scenes Dataset on disk: where each file lives, how to read it, and a pre-flight check.

The pre-flight check covers everything a run needs.

Paths follow NSD's real layout (relative to ``nsd_root``); the toy generator writes
the same layout, so this module is the only one that knows it.
Volumes: NIfTI files hold (X, Y, Z); the HDF5 betas hold (trials, Z, Y, X). We use
the (Z, Y, X) order of the betas everywhere, so NIfTI data are transposed on read.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import h5py
import nibabel as nib
import numpy as np
import pandas as pd
import scipy.io

from sdbrain.errors import InputError, problems_error

BETA_DIR = "betas_fithrf_GLMdenoise_RR"
RESPONSE_COLUMNS = ("SESSION", "73KID")


@dataclass(frozen=True)
class Layout:
    """Paths of NSD files under one root."""

    root: Path

    def __post_init__(self):
        """Make ``root`` a Path."""
        object.__setattr__(self, "root", Path(self.root))

    def subject_dir(self, subject: str) -> Path:
        """Return a subject's folder of preprocessed data (nsddata/ppdata/<subject>)."""
        return self.root / "nsddata/ppdata" / subject

    def responses(self, subject: str) -> Path:
        """Return a subject's behav/responses.tsv (one row per trial: SESSION, 73KID, ...)."""
        return self.subject_dir(subject) / "behav/responses.tsv"

    def betas(self, subject: str, session: int) -> Path:
        """Return the HDF5 betas of one session (func1pt8mm, ``betas_fithrf_GLMdenoise_RR``)."""
        return self.root / "nsddata_betas/ppdata" / subject / "func1pt8mm" / BETA_DIR / f"betas_session{session:02d}.hdf5"

    def ncsnr(self, subject: str) -> Path:
        """Return a subject's noise-ceiling SNR volume (ncsnr.nii.gz, beside the betas)."""
        return self.root / "nsddata_betas/ppdata" / subject / "func1pt8mm" / BETA_DIR / "ncsnr.nii.gz"

    def roi(self, subject: str, name: str) -> Path:
        """Return a volume in func1pt8mm space: ``streams`` -> roi/streams.nii.gz, ``brainmask`` -> brainmask.nii.gz."""
        func = self.subject_dir(subject) / "func1pt8mm"
        return func / f"{name}.nii.gz" if name == "brainmask" else func / "roi" / f"{name}.nii.gz"

    @property
    def expdesign(self) -> Path:
        """The path of nsd_expdesign.mat (it holds ``sharedix``, the shared images)."""
        return self.root / "nsddata/experiments/nsd/nsd_expdesign.mat"

    @property
    def stim_info(self) -> Path:
        """The path of nsd_stim_info_merged.csv (each NSD image's COCO id)."""
        return self.root / "nsddata/experiments/nsd/nsd_stim_info_merged.csv"

    @property
    def stimuli(self) -> Path:
        """The path of nsd_stimuli.hdf5 (``imgBrick``: every NSD image, (n, H, W, 3) uint8)."""
        return self.root / "nsddata_stimuli/stimuli/nsd/nsd_stimuli.hdf5"

    def captions(self, split: str) -> Path:
        """Return the COCO captions file of ``split`` ('train' or 'val': captions_<split>2017.json)."""
        return self.root / f"nsddata_stimuli/stimuli/nsd/annotations/captions_{split}2017.json"

    def freesurfer(self, subject: str) -> Path:
        """Return a subject's FreeSurfer folder (nsddata/freesurfer/<subject>)."""
        return self.root / "nsddata/freesurfer" / subject


# --- readers -----------------------------------------------------------------

def read_responses(path: Path, sessions) -> pd.DataFrame:
    """Trials of the given sessions, in acquisition order: columns SESSION, 73KID (1-based)."""
    table = pd.read_csv(path, sep="\t")
    missing = [c for c in RESPONSE_COLUMNS if c not in table]
    if missing:
        raise InputError(f"{path}: missing column(s) {missing}")
    table = table[table["SESSION"].isin(list(sessions))]
    return table[list(RESPONSE_COLUMNS)].astype(np.int64).reset_index(drop=True)


# labels of NSD's streams ROI volume (0 = unlabelled)
STREAMS = {1: "early", 2: "midventral", 3: "midlateral", 4: "midparietal", 5: "ventral", 6: "lateral", 7: "parietal"}


def test_repeats(layout: Layout, subject: str, sessions, test_ids) -> np.ndarray:
    """Trials averaged into each test image's response (in ``test_ids`` order)."""
    seen = read_responses(layout.responses(subject), sessions)["73KID"].value_counts()
    return np.array([int(seen.get(int(i), 0)) for i in test_ids])


def read_sharedix(path: Path) -> np.ndarray:
    """Read the 1-based 73k ids of the shared images (``sharedix``, a MATLAB (1, n) array)."""
    mat = scipy.io.loadmat(path, variable_names=["sharedix"])
    if "sharedix" not in mat:
        raise InputError(f"{path}: no variable 'sharedix'")
    return np.asarray(mat["sharedix"]).ravel().astype(np.int64)


def read_volume(path: Path) -> np.ndarray:
    """Read a NIfTI volume in the betas' (Z, Y, X) order."""
    return np.asarray(nib.load(path).dataobj).T


def roi_mask(volume: np.ndarray, labels) -> np.ndarray:
    """Voxels whose label equals one of ``labels`` (never 'non-zero': -1 marks outside the brain)."""
    return np.isin(volume, list(labels))


# --- pre-flight check ----------------------------------------------------------

def _check_exists(path: Path, problems: list[str]) -> bool:
    if not path.exists():
        problems.append(f"{path}: missing")
        return False
    return True


def _volume_shape(path: Path, problems: list[str]):
    if not _check_exists(path, problems):
        return None
    try:
        return tuple(reversed(nib.load(path).shape[:3]))
    except Exception as err:  # nibabel raises many kinds on damaged files
        problems.append(f"{path}: not a readable NIfTI file ({type(err).__name__})")
        return None


def _betas_shape(path: Path, problems: list[str]):
    if not _check_exists(path, problems):
        return None
    try:
        with h5py.File(path, "r") as f:
            if "betas" not in f:
                problems.append(f"{path}: no dataset 'betas'")
                return None
            data = f["betas"]
            if data.ndim != 4 or data.dtype != np.int16:
                problems.append(f"{path}: dataset 'betas' is {data.dtype} with {data.ndim} axes, expected int16 (trials, Z, Y, X)")
                return None
            return data.shape
    except OSError as err:
        problems.append(f"{path}: not a readable HDF5 file ({str(err).splitlines()[0]})")
        return None


def check_subject(layout: Layout, subject: str, sessions, roi_files, problems: list[str]) -> None:
    """Append to ``problems`` every missing or malformed file of one subject."""
    if not layout.subject_dir(subject).is_dir():
        problems.append(f"subject '{subject}' not found: no folder {layout.subject_dir(subject)}")
        return
    trials = None
    if _check_exists(layout.responses(subject), problems):
        try:
            trials = read_responses(layout.responses(subject), sessions)
        except InputError as err:
            problems.append(str(err))
    volumes = {name: _volume_shape(layout.roi(subject, name), problems) for name in sorted(roi_files)}
    volumes["ncsnr"] = _volume_shape(layout.ncsnr(subject), problems)
    reference = volumes.get("brainmask") or next((s for s in volumes.values() if s), None)
    for name, shape in volumes.items():
        if shape is not None and reference is not None and shape != reference:
            path = layout.ncsnr(subject) if name == "ncsnr" else layout.roi(subject, name)
            problems.append(f"{path}: volume shape (Z, Y, X) {shape} differs from the brain mask's {reference}")
    for session in sessions:
        path = layout.betas(subject, session)
        n = None if trials is None else int((trials["SESSION"] == session).sum())
        if n == 0:
            problems.append(f"{layout.responses(subject)}: no trials for session {session}")
        shape = _betas_shape(path, problems)
        if shape is None:
            continue
        if reference is not None and tuple(shape[1:]) != reference:
            problems.append(f"{path}: betas volume {tuple(shape[1:])} differs from the ROI volumes {reference}")
        if n and shape[0] != n:
            problems.append(f"{path}: {shape[0]} trials but responses.tsv lists {n} for session {session}")


def check_stimuli(layout: Layout, problems: list[str]) -> None:
    """Append to ``problems`` every missing or malformed stimulus file (design, stimulus info, captions, images)."""
    for path in (layout.expdesign, layout.stim_info, layout.captions("train"), layout.captions("val")):
        _check_exists(path, problems)
    if _check_exists(layout.stimuli, problems):
        try:
            with h5py.File(layout.stimuli, "r") as f:
                if "imgBrick" not in f or f["imgBrick"].ndim != 4 or f["imgBrick"].shape[-1] != 3:
                    problems.append(f"{layout.stimuli}: expected a dataset 'imgBrick' of shape (n, H, W, 3)")
        except OSError as err:
            problems.append(f"{layout.stimuli}: not a readable HDF5 file ({str(err).splitlines()[0]})")


def check_tree(layout: Layout, subjects, sessions, roi_files) -> None:
    """Raise one InputError listing every problem with the files this run needs."""
    if not layout.root.is_dir():
        raise InputError(f"nsd_root '{layout.root}' is not a directory")
    problems: list[str] = []
    check_stimuli(layout, problems)
    for subject in subjects:
        check_subject(layout, subject, sessions, roi_files, problems)
    if problems:
        raise problems_error(f"NSD check of {layout.root} failed", problems)


# --- train/test split ---------------------------------------------------------

def test_ids(layout: Layout, subjects, sessions) -> np.ndarray:
    """The shared images seen (at least once) by every analysed subject in the chosen sessions."""
    shared = set(read_sharedix(layout.expdesign).tolist())
    for subject in subjects:
        seen = set(read_responses(layout.responses(subject), sessions)["73KID"].tolist())
        shared &= seen
    return np.array(sorted(shared), dtype=np.int64)


def read_captions(layout: Layout) -> dict[int, list[str]]:
    """COCO captions of every NSD image: {73k id (1-based): [caption, ...]}."""
    info = pd.read_csv(layout.stim_info, index_col=0)
    by_coco: dict[int, list[str]] = {}
    for split in ("train", "val"):
        for ann in json.loads(layout.captions(split).read_text())["annotations"]:
            by_coco.setdefault(int(ann["image_id"]), []).append(ann["caption"].strip())
    return {int(nsd_id) + 1: by_coco.get(int(coco), []) for nsd_id, coco in zip(info["nsdId"], info["cocoId"])}


def inventory(layout: Layout, subjects, sessions) -> pd.DataFrame:
    """One row per betas file of the run: subject, session, trials, volume shape, path."""
    rows = []
    for subject in subjects:
        for session in sessions:
            path = layout.betas(subject, session)
            with h5py.File(path, "r") as f:
                shape = f["betas"].shape
            rows.append({"subject": subject, "session": session, "trials": shape[0],
                         "volume_zyx": "x".join(map(str, shape[1:])), "path": str(path)})
    return pd.DataFrame(rows)


def read_images(layout: Layout, ids) -> np.ndarray:
    """(n, H, W, 3) uint8 images of the given 73k ids (1-based), in the order given."""
    ids = np.asarray(ids, dtype=np.int64)
    with h5py.File(layout.stimuli, "r") as f:
        brick = f["imgBrick"]
        bad = ids[(ids < 1) | (ids > brick.shape[0])]
        if bad.size:
            raise InputError(f"{layout.stimuli}: imgBrick holds {brick.shape[0]} images; no image for 73k id(s) {bad[:5].tolist()}")
        unique, position = np.unique(ids, return_inverse=True)
        images = brick[unique - 1]  # h5py reads increasing, unique indices
    return images[position]
