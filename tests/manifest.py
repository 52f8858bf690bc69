"""A content manifest of a run's results: one hash per array, volume, table and image.

Arrays and volumes are hashed by their values (a .nii.gz file's bytes hold the
time it was compressed), images by their pixels (a PNG's bytes hold the software
that wrote it), tables by their bytes. Logs are left out.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

KINDS = (".npy", ".tsv", ".nii.gz", ".png")


def _digest(path: Path) -> str:
    if path.name.endswith(".npy"):
        values = np.load(path, allow_pickle=False)
    elif path.name.endswith(".nii.gz"):
        import nibabel as nib
        values = np.asarray(nib.load(path).dataobj)
    elif path.name.endswith(".png"):
        from PIL import Image
        with Image.open(path) as image:
            values = np.asarray(image)
    else:
        return hashlib.sha256(path.read_bytes()).hexdigest()
    return hashlib.sha256(str((values.dtype, values.shape)).encode() + np.ascontiguousarray(values).tobytes()).hexdigest()


def manifest(results: Path, kinds: tuple[str, ...] = KINDS) -> dict[str, str]:
    """{relative path: hash} of every file under ``results`` whose name ends with one of ``kinds``."""
    return {str(p.relative_to(results)): _digest(p) for p in sorted(results.rglob("*"))
            if p.is_file() and p.name.endswith(kinds)}


def differences(a: dict[str, str], b: dict[str, str]) -> list[str]:
    """Paths missing from either manifest or hashed differently."""
    return sorted(k for k in a.keys() | b.keys() if a.get(k) != b.get(k))
