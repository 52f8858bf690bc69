"""The rating trials: an original test image beside its own reconstruction and another image's.

Per subject and method, an original test image beside the reconstruction of that image and the
reconstruction of another, randomly chosen test image, left/right shuffled.

A trial set is a folder: ``trials.tsv`` (one row per trial, image paths relative to the folder),
``session.json`` (how many trials each rater gets) and ``images/`` (every image a trial shows,
copied, so the folder can be taken to the rating room alone).
"""
from __future__ import annotations

import hashlib
import json
import shutil
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from sdbrain.errors import InputError

COLUMNS = ["trial", "subject", "method", "nsd_id", "sample", "foil_nsd_id", "foil_sample", "original", "left",
           "right", "target"]
SIDES = ("left", "right")


def pair_trials(manifest: pd.DataFrame, subject: str, method: str, n_images: int | None, seed: int) -> pd.DataFrame:
    """Pair one trial per test image of a manifest (nsd_id, sample, path).

    Each trial shows the image's own reconstruction and a random other image's, one random sample each,
    the target on a random side.

    The generator is seeded from the seed and the subject/method names, so a pair's trials do
    not change when other subjects or methods are added.
    """
    rng = np.random.default_rng([seed, zlib.crc32(f"{subject}/{method}".encode())])
    ids = np.array(sorted(manifest["nsd_id"].unique()))
    if len(ids) < 2:
        raise InputError(f"manifest of {subject}/{method}: two-way trials need at least 2 test images, found {len(ids)}")
    if n_images is not None and n_images < len(ids):
        ids = np.sort(rng.choice(ids, n_images, replace=False))
    samples = {i: sorted(manifest.loc[manifest["nsd_id"] == i, "sample"]) for i in ids}
    paths = {(r.nsd_id, r.sample): r.path for r in manifest.itertuples()}
    rows = []
    for k, nsd_id in enumerate(ids):
        foil = ids[(k + 1 + rng.integers(len(ids) - 1)) % len(ids)]  # any image but this one
        sample, foil_sample = rng.choice(samples[nsd_id]), rng.choice(samples[foil])
        target = SIDES[rng.integers(2)]
        own, other = paths[(nsd_id, sample)], paths[(foil, foil_sample)]
        rows.append({"subject": subject, "method": method, "nsd_id": int(nsd_id), "sample": int(sample),
                     "foil_nsd_id": int(foil), "foil_sample": int(foil_sample), "target": target,
                     "left": own if target == "left" else other, "right": other if target == "left" else own})
    return pd.DataFrame(rows)


def build(manifests: dict[tuple[str, str], pd.DataFrame], originals: dict[int, np.ndarray], out_dir: str | Path,
          n_images: int | None, trials_per_rater: int | None, seed: int) -> pd.DataFrame:
    """Write a trial set folder from the manifests of each (subject, method) and the original images.

    The originals are given by 73k id; trial ids are numbered in a seeded random order that mixes
    subjects and methods.
    """
    out_dir = Path(out_dir)
    images = out_dir / "images"
    images.mkdir(parents=True, exist_ok=True)
    table = pd.concat([pair_trials(m, s, meth, n_images, seed) for (s, meth), m in manifests.items()],
                      ignore_index=True)
    table = table.iloc[np.random.default_rng(seed).permutation(len(table))].reset_index(drop=True)
    table.insert(0, "trial", np.arange(1, len(table) + 1))
    copied = {}
    for side in SIDES:  # both sides of a trial are reconstructions of its subject's method
        table[side] = [_copy(path, f"{subject}_{method}", images, copied)
                       for path, subject, method in zip(table[side], table["subject"], table["method"])]
    for nsd_id in sorted(set(table["nsd_id"])):
        Image.fromarray(originals[nsd_id]).save(images / f"original_{nsd_id}.png")
    table["original"] = [f"images/original_{i}.png" for i in table["nsd_id"]]
    table = table[COLUMNS]
    table.to_csv(out_dir / "trials.tsv", sep="\t", index=False)
    per_rater = min(trials_per_rater or len(table), len(table))
    (out_dir / "session.json").write_text(json.dumps(
        {"n_trials": len(table), "trials_per_rater": per_rater, "seed": seed, "sha256": digest(out_dir / "trials.tsv")},
        indent=1) + "\n")
    return table


def _copy(path: str, prefix: str, images: Path, copied: dict) -> str:
    """Copy a reconstruction into the set's images folder once; return its relative path.

    The copy is named ``<prefix>_<its file name>``: subject_method_id_sample.png for a reconstruction
    ``<id>_<sample>.png`` of a subject's method.
    """
    if path not in copied:
        source = Path(path)
        name = f"{prefix}_{source.name}"
        shutil.copyfile(source, images / name)
        copied[path] = f"images/{name}"
    return copied[path]


def digest(path: Path) -> str:
    """Return the SHA-256 (hex) of a file: it ties a ratings database to its trials file."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class TrialSet:
    """A trial set folder, read and checked.

    Its ``table`` (indexed by trial id), ``per_rater``, ``sha256`` (of the trials file) and ``session`` (the
    session file's path).
    """

    def __init__(self, trials_path: str | Path):
        self.path = Path(trials_path)
        if not self.path.is_file():
            raise InputError(f"{self.path}: trials file not found (build it with the workflow's rate_trials rule)")
        self.session = session = self.path.parent / "session.json"
        try:
            meta = json.loads(session.read_text())
            self.per_rater = int(meta["trials_per_rater"])
        except (OSError, ValueError, KeyError, TypeError):
            raise InputError(f"{session}: expected the session file beside the trials, with 'trials_per_rater'") from None
        try:
            table = pd.read_csv(self.path, sep="\t")
        except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
            raise InputError(f"{self.path}: not a trials table ({err})") from None
        missing = [c for c in COLUMNS if c not in table.columns]
        if missing:
            raise InputError(f"{self.path}: expected columns {COLUMNS}; missing {missing}")
        if table["trial"].duplicated().any() or not table["target"].isin(SIDES).all() or table.empty:
            raise InputError(f"{self.path}: expected unique trial ids and a target of left or right in every row")
        self.table = table.set_index("trial", drop=False)
        self.sha256 = digest(self.path)
        self.per_rater = min(self.per_rater, len(table))

    def image(self, trial: int, which: str) -> Path:
        """Return the file of one image of a trial (which: original, left or right)."""
        return self.path.parent / self.table.at[trial, which]

    def assignment(self, rater_index: int) -> list[int]:
        """Return the trial ids of the rater added k-th (0-based), in the order shown.

        A window of ``per_rater`` consecutive trials that starts where the previous rater's ended (wrapping),
        so raters cover the set evenly and overlap once it is used up.
        """
        ids = self.table["trial"].to_numpy()
        start = rater_index * self.per_rater
        return [int(ids[(start + j) % len(ids)]) for j in range(self.per_rater)]
