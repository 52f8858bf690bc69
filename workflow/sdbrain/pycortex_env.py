"""Importing pycortex with its config and filestore inside the workflow's own folders.

pycortex writes a config file on first import and caches masks into its filestore;
left alone it writes both into the user's home and the installed package. We point
``XDG_CONFIG_HOME`` at a folder of ours, write an ``options.cfg`` whose filestore is
ours too, and copy the shipped demo subject ``S1`` into it once.
"""
from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import numpy as np

from .errors import InputError

SHIPPED_DB = Path(sys.prefix) / "share" / "pycortex" / "db"


def import_cortex(workdir: str | Path, subjects=("S1",)):
    """Return the ``cortex`` module configured to use ``workdir``/db as its filestore."""
    if "cortex" in sys.modules:
        return sys.modules["cortex"]
    workdir = Path(workdir).resolve()
    db = workdir / "db"
    config_home = workdir / "config"
    (config_home / "pycortex").mkdir(parents=True, exist_ok=True)
    options = config_home / "pycortex" / "options.cfg"
    if not options.exists():
        options.write_text(f"[basic]\nfilestore = {db}\n")
    for subject in subjects:
        if not (db / subject).exists():
            if not (SHIPPED_DB / subject).exists():
                raise InputError(f"pycortex subject '{subject}' not found in {SHIPPED_DB} (is pycortex installed in this environment?)")
            shutil.copytree(SHIPPED_DB / subject, db / subject)
    os.environ["XDG_CONFIG_HOME"] = str(config_home)
    import cortex
    return cortex


def demo_grid(cortex, subject: str, xfm: str, streams: dict) -> dict:
    """The functional grid of a pycortex subject: cortical mask, streams labels, affine.

    ``streams`` maps a streams label (int) to the pycortex ROI names it gathers;
    voxels claimed by two labels keep the first one listed.
    """
    mask = np.asarray(cortex.db.get_mask(subject, xfm, "cortical"), dtype=bool)
    rois = cortex.utils.get_roi_masks(subject, xfm, gm_sampler="cortical", split_lr=False, threshold=None,
                                      return_dict=True)
    labels = np.zeros(mask.shape, dtype=np.int16)
    for label, names in streams.items():
        for name in names:
            if name not in rois:
                raise InputError(f"config toy.streams: pycortex subject {subject} has no ROI '{name}'")
            labels[(rois[name] > 0) & (labels == 0) & mask] = int(label)
    affine = cortex.db.get_xfm(subject, xfm).reference.affine
    return {"mask": mask, "streams": labels, "affine": np.asarray(affine)}
