"""Importing pycortex with its config and filestore inside the workflow's own folders.

pycortex writes a config file on first import and caches masks into its filestore;
left alone it writes both into the user's home and the installed package. We point
``XDG_CONFIG_HOME`` at a folder of ours, write an ``options.cfg`` whose filestore is
ours too, and copy the shipped demo subject ``S1`` into it once.
"""
from __future__ import annotations

import fcntl
import os
import shutil
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from sdbrain.errors import ArgumentError, InputError

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


@contextmanager
def filestore_lock(cortex, subject: str):
    """Hold an exclusive lock on a pycortex subject's cache while its caches may be built.

    pycortex writes them in place, so a job reading a cache that another job (the toy world's subjects share
    S1) is writing fails.
    """
    cache = Path(cortex.database.default_filestore) / subject / "cache"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".sdbrain.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def demo_grid(cortex, subject: str, xfm: str, streams: dict) -> dict:
    """Compute the functional grid of a pycortex subject: cortical mask, streams labels, affine.

    ``streams`` maps a streams label (int) to the pycortex ROI names it gathers;
    voxels claimed by two labels keep the first one listed. The mask and ROI voxels are
    those of pycortex's ``db.get_mask(.., "cortical")`` and ``utils.get_roi_masks(..,
    gm_sampler="cortical")``, computed with array operations where pycortex loops in
    Python over vertices (about a minute for S1; tests/test_flatmaps.py compares the two).
    """
    dist, nearest = cortex.utils.get_vox_dist(subject, xfm)  # each voxel's nearest fiducial vertex
    mask = cortical_mask(cortex, subject, dist, nearest)
    rois = roi_voxels(cortex, subject, nearest, mask)
    labels = np.zeros(mask.shape, dtype=np.int16)
    for label, names in streams.items():
        for name in names:
            if name not in rois:
                raise ArgumentError("streams", f"pycortex subject {subject} has no ROI '{name}'")
            labels[rois[name] & (labels == 0) & mask] = int(label)
    affine = cortex.db.get_xfm(subject, xfm).reference.affine
    return {"mask": mask, "streams": labels, "affine": np.asarray(affine)}


def cortical_mask(cortex, subject: str, dist: np.ndarray, nearest: np.ndarray) -> np.ndarray:
    """Voxels whose centre lies within the cortical thickness (pial to white) at their nearest vertex."""
    pia, _ = cortex.db.get_surf(subject, "pia", merge=True, nudge=False)
    wm, _ = cortex.db.get_surf(subject, "wm", merge=True, nudge=False)
    thickness = np.sqrt(((pia - wm) ** 2).sum(1))
    return dist <= thickness[nearest]


def roi_voxels(cortex, subject: str, nearest: np.ndarray, mask: np.ndarray) -> dict[str, np.ndarray]:
    """Return every overlay ROI as a voxel mask: cortical voxels whose nearest vertex is in the ROI.

    An ROI's vertices also take their neighbours cut from the flat surface, and voxels in two ROIs belong
    to neither.
    """
    svg = cortex.db.get_overlay(subject)
    _, flat_polys = cortex.db.get_surf(subject, "flat", merge=True)
    on_flat = np.unique(flat_polys)
    _, polys = cortex.db.get_surf(subject, "fiducial", merge=True)
    source = polys[:, [0, 1, 1, 2, 2, 0]].ravel()  # every edge of the full surface, both ways
    target = polys[:, [1, 0, 2, 1, 0, 2]].ravel()
    cut = ~np.isin(target, on_flat)
    voxels = {}
    for name in svg.rois.shapes.keys():
        verts = np.intersect1d(svg.rois.get_mask(name), on_flat)
        verts = np.union1d(verts, target[cut & np.isin(source, verts)])
        voxels[name] = np.isin(nearest, verts) & mask
    overlap = np.sum(list(voxels.values()), axis=0) > 1
    return {name: v & ~overlap for name, v in voxels.items()}


def save_shared_space_xfm(cortex, subject: str, name: str, reference) -> None:
    """Save a transform for volumes that share the anatomy's scanner space.

    Such volumes are NSD's func1pt8mm and its FreeSurfer surfaces: the transform is the identity in
    pycortex's 'magnet' form, so voxel = inverse(reference affine) x surface point.
    """
    cortex.db.save_xfm(subject, name, np.eye(4), xfmtype="magnet", reference=str(reference))


def import_freesurfer_subject(cortex, subject: str, freesurfer_dir, reference, xfm: str, patch: str = "full") -> None:
    """Import an NSD subject's FreeSurfer surfaces and flat patches into the filestore, with its func transform.

    Needs FreeSurfer's ``mri_convert`` and ``mris_convert`` on the PATH (pycortex calls them).
    NSD ships flat patches (``surf/?h.full.flat.patch.3d``); a subject without them must be
    flattened first (FreeSurfer's ``mris_flatten``, see docs/nsd.md).
    """
    freesurfer_dir = Path(freesurfer_dir)
    if not (freesurfer_dir / subject / "surf").is_dir():
        raise InputError(f"{freesurfer_dir / subject}: no FreeSurfer subject (expected surf/ and mri/)")
    missing = [h for h in ("lh", "rh") if not (freesurfer_dir / subject / "surf" / f"{h}.{patch}.flat.patch.3d").exists()]
    if missing:
        raise InputError(f"{freesurfer_dir / subject / 'surf'}: no {patch}.flat.patch.3d for {missing} "
                         "(flatten with FreeSurfer's mris_flatten first, or set flatmaps.flat_patch)")
    for tool in ("mri_convert", "mris_convert"):
        if shutil.which(tool) is None:
            raise InputError(f"pycortex imports FreeSurfer subjects with '{tool}', which is not on the PATH "
                             "(source FreeSurfer's SetUpFreeSurfer.sh)")
    cortex.freesurfer.import_subj(subject, subject, freesurfer_subject_dir=str(freesurfer_dir), autoflatten=False)
    cortex.freesurfer.import_flat(subject, f"{patch}.flat", cx_subject=subject, auto_overwrite=True,
                                  freesurfer_subject_dir=str(freesurfer_dir))
    save_shared_space_xfm(cortex, subject, xfm, reference)
