"""Maps: per-voxel values back into the subject's functional volume, as NIfTI and quick-look PNGs."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402


def to_volume(values: np.ndarray, voxels: np.ndarray, shape_zyx, fill=np.nan) -> np.ndarray:
    """A (Z, Y, X) volume with ``values`` at the flat voxel indices ``voxels`` and ``fill`` elsewhere."""
    volume = np.full(int(np.prod(shape_zyx)), fill, dtype=np.float32)
    volume[voxels] = values
    return volume.reshape(shape_zyx)


def save_nifti(volume_zyx: np.ndarray, affine: np.ndarray, path: str | Path) -> None:
    """Write a (Z, Y, X) volume as NIfTI, whose data order is (X, Y, Z)."""
    nib.save(nib.Nifti1Image(np.ascontiguousarray(volume_zyx.T), affine), str(path))


def slices_png(volume_zyx: np.ndarray, path: str | Path, title: str, underlay: np.ndarray | None = None,
               n_slices: int = 8, cmap="hot", vmin=0.0, vmax=None) -> None:
    """Axial slices (evenly spaced along Z) of a volume over a gray ``underlay`` (e.g. the brain mask); NaN is transparent."""
    z_positions = np.linspace(0, volume_zyx.shape[0] - 1, n_slices + 2)[1:-1].round().astype(int)
    finite = volume_zyx[np.isfinite(volume_zyx)]
    vmax = vmax if vmax is not None else (float(np.percentile(finite, 99)) if finite.size else 1.0)
    fig, axes = plt.subplots(1, n_slices, figsize=(2.2 * n_slices, 2.8), facecolor="white")
    for ax, z in zip(axes, z_positions):
        if underlay is not None:
            ax.imshow(underlay[z], cmap="gray", vmin=0, vmax=2.5, origin="lower")
        image = ax.imshow(volume_zyx[z], cmap=cmap, vmin=vmin, vmax=vmax, origin="lower")
        ax.set_title(f"z={z}", fontsize=7)
        ax.axis("off")
    fig.colorbar(image, ax=axes, shrink=0.7)
    fig.suptitle(title, fontsize=9)
    fig.savefig(path, dpi=100)
    plt.close(fig)
