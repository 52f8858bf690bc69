"""Maps: per-voxel values back into the subject's functional volume, as NIfTI and quick-look PNGs."""
from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import nibabel as nib  # noqa: E402
import numpy as np  # noqa: E402


def colour_limit(values, symmetric: bool = False) -> float:
    """Return the top of a colour scale: the 99th percentile of the finite ``values``.

    ``values`` is an array, or a list of arrays of any shapes. The percentile is of their magnitude where
    ``symmetric`` (a scale around 0); 1.0 when none is finite.
    """
    parts = [a[np.isfinite(a)] for a in map(np.asarray, values if isinstance(values, list) else [values])]
    finite = np.concatenate(parts) if parts else np.array([])
    if symmetric:
        finite = np.abs(finite)
    return float(np.percentile(finite, 99)) if finite.size else 1.0


def to_volume(values: np.ndarray, voxels: np.ndarray, shape_zyx, fill=np.nan) -> np.ndarray:
    """Return a (Z, Y, X) volume with ``values`` at the flat voxel indices ``voxels`` and ``fill`` elsewhere."""
    volume = np.full(int(np.prod(shape_zyx)), fill, dtype=np.float32)
    volume[voxels] = values
    return volume.reshape(shape_zyx)


def save_nifti(volume_zyx: np.ndarray, affine: np.ndarray, path: str | Path) -> None:
    """Write a (Z, Y, X) volume as NIfTI, whose data order is (X, Y, Z)."""
    nib.save(nib.Nifti1Image(np.ascontiguousarray(volume_zyx.T), affine), str(path))


class Volume:
    """Per-voxel values -> the subject's functional volume (grid and affine of a reference NIfTI)."""

    def __init__(self, reference: str | Path, voxels: np.ndarray):
        image = nib.load(str(reference))
        self.affine, self.shape = image.affine, tuple(reversed(image.shape[:3]))
        self.voxels = np.asarray(voxels)

    def __call__(self, values, fill=np.nan) -> np.ndarray:
        """Return per-voxel ``values`` as a (Z, Y, X) float32 volume, ``fill`` outside the voxels."""
        return to_volume(values, self.voxels, self.shape, fill)

    def save(self, values, path: str | Path, fill=np.nan) -> None:
        """Write per-voxel ``values`` as a NIfTI volume with the reference's affine."""
        save_nifti(self(values, fill), self.affine, path)

    @property
    def mask(self) -> np.ndarray:
        """The (Z, Y, X) volume that is 1 at the voxels and 0 elsewhere."""
        return self(np.ones(len(self.voxels)), fill=0)


def unique_slices_png(volume: Volume, significant: np.ndarray, unique_z: np.ndarray, unique_other: np.ndarray,
                      other: str, path, suptitle: str) -> None:
    """Draw a quick-look of a joint model's two unique-variance maps, significant voxels only.

    Both are on one colour scale (up to the 99th percentile of both).
    """
    sig = significant
    top = colour_limit([unique_z[sig], unique_other[sig]])
    slices_png([volume(np.where(sig, unique_z, np.nan)), volume(np.where(sig, unique_other, np.nan))], path,
               ["unique to z", f"unique to {other}"], underlay=volume.mask, affine=volume.affine, vmax=top,
               suptitle=suptitle)


def lr_sides(affine: np.ndarray) -> tuple[str, tuple[str, str]] | None:
    """Where the subject's left and right lie on an axial slice ``volume[z]`` drawn with ``origin="lower"``.

    Returns the image axis that runs left-right ("x": columns, data axis X; "y": rows, data axis Y) and the
    labels of its low and high ends, e.g. ("x", ("R", "L")) for NSD's and S1's LPS grids, whose first voxel
    is on the subject's right; None where left-right runs across slices (not axial). nibabel's axis codes
    name the direction in which a voxel index grows.
    """
    codes = nib.aff2axcodes(affine)  # for data axes (X, Y, Z) of the NIfTI, i.e. columns, rows, slices here
    for axis, code in zip(("x", "y"), codes[:2]):
        if code in ("L", "R"):
            return axis, ("R" if code == "L" else "L", code)
    return None


def slices_figure(volume_zyx: np.ndarray | list, title: str | list, *, affine: np.ndarray,
                  underlay: np.ndarray | None = None, n_slices: int = 8, cmap="hot", vmin=0.0, vmax=None,
                  suptitle: str = ""):
    """Draw axial slices (evenly spaced along Z) of one volume per row over a gray ``underlay``.

    NaN is transparent. Every slice carries L and R at the subject's left and right, from the NIfTI
    ``affine`` of the volumes.
    """
    volumes = volume_zyx if isinstance(volume_zyx, list) else [volume_zyx]
    titles = title if isinstance(title, list) else [title]
    sides = lr_sides(affine)
    z_positions = np.linspace(0, volumes[0].shape[0] - 1, n_slices + 2)[1:-1].round().astype(int)
    fig, rows = plt.subplots(len(volumes), n_slices, figsize=(2.2 * n_slices, 2.6 * len(volumes) + 0.4),
                             facecolor="white", squeeze=False)
    for volume, axes, row_title in zip(volumes, rows, titles):
        top = vmax if vmax is not None else colour_limit(volume)
        for ax, z in zip(axes, z_positions):
            if underlay is not None:
                ax.imshow(underlay[z], cmap="gray", vmin=0, vmax=2.5, origin="lower")
            image = ax.imshow(volume[z], cmap=cmap, vmin=vmin, vmax=max(top, vmin + 1e-6), origin="lower")
            ax.set_title(f"z={z}", fontsize=7)
            ax.axis("off")
            if sides is not None:
                axis, (low, high) = sides
                style = {"transform": ax.transAxes, "fontsize": 7, "color": "dodgerblue", "fontweight": "bold"}
                if axis == "x":
                    ax.text(0.02, 0.5, low, ha="left", va="center", **style)
                    ax.text(0.98, 0.5, high, ha="right", va="center", **style)
                else:  # origin="lower": row 0 at the bottom
                    ax.text(0.5, 0.02, low, ha="center", va="bottom", **style)
                    ax.text(0.5, 0.98, high, ha="center", va="top", **style)
        if len(volumes) > 1:
            axes[0].text(-0.1, 0.5, row_title, transform=axes[0].transAxes, rotation=90, ha="right", va="center",
                         fontsize=8, wrap=True)
        fig.colorbar(image, ax=list(axes), shrink=0.7)
    fig.suptitle(suptitle or (titles[0] if len(titles) == 1 else ""), fontsize=9)
    return fig


def slices_png(volume_zyx: np.ndarray | list, path: str | Path, title: str | list, **kwargs) -> None:
    """``slices_figure`` saved as a PNG."""
    fig = slices_figure(volume_zyx, title, **kwargs)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def categorical(n: int):
    """Return a colormap of ``n`` distinct colours, for labels 1..n (ROIs, U-Net layers)."""
    from matplotlib.colors import ListedColormap
    return ListedColormap(plt.get_cmap("tab10").colors[:n])
