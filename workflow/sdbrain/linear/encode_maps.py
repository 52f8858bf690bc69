"""What the encoding jobs write for each model: a feature space's own model, a joint model
z + X with the unique variance of each, and the best U-Net layer per voxel (Fig. 9).

The files of one model live in ``results/encode/<subject>/<model>/`` (``SINGLE``, ``JOINT``,
``LAYERS`` name them). One job fits every model of one subject at one noise level
(rules encode_level and encode_steps) in one process, so the start-up (Python, torch,
scikit-learn, matplotlib) and the betas' loading are paid once per level, not once per
model, and each space is PCA-reduced once for its own model and its joint model with z.

Every start of Snakemake imports this module for the file names (``files``, ``SINGLE``, ...), so
the writers import the modelling modules (scikit-learn, matplotlib, nibabel) only when called.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    from pathlib import Path

    from sdbrain.linear import encode
    from sdbrain.maps import volumes

# the files of each kind of model, under results/encode/<subject>/<model>/
SINGLE = {"r": "r.nii.gz", "p": "p.nii.gz", "fdr": "fdr_mask.nii.gz", "nc": "r2_over_nc.nii.gz", "table": "voxels.tsv",
          "pca": "pca_explained_variance.tsv", "png": "r_slices.png"}
JOINT = {"r": "r.nii.gz", "fdr": "fdr_mask.nii.gz", "unique_z": "unique_z.nii.gz",
         "unique_other": "unique_{space}.nii.gz", "table": "voxels.tsv", "png": "unique_slices.png"}
LAYERS = {"nifti": "best_layer.nii.gz", "table": "best_layer.tsv", "png": "best_layer_slices.png"}


def files(folder: str, kind: dict[str, str], space: str = "") -> dict[str, str]:
    """{key: path} of one model's files in ``folder`` (``space``: the other space of a joint model)."""
    return {key: f"{folder}/{name.replace('{space}', space)}" for key, name in kind.items()}


def volume_and_ceiling(nsd_root, subject: str, sessions, data: encode.Responses) -> tuple[volumes.Volume, np.ndarray]:
    """The subject's brain-mask volume that every map fills, and the noise ceiling of each of its voxels (from
    NSD's ncsnr and the test images' repeats in ``sessions``)."""
    from sdbrain.data import nsd
    from sdbrain.linear import stats
    from sdbrain.maps import volumes
    layout = nsd.Layout(nsd_root)
    volume = volumes.Volume(layout.roi(subject, "brainmask"), data.voxels["voxel"].to_numpy())
    ceiling = stats.noise_ceiling(nsd.read_volume(layout.ncsnr(subject)).ravel()[volume.voxels],
                                  nsd.test_repeats(layout, subject, sessions, data.test_ids))
    return volume, ceiling


def write_single(x: encode.Reduced, result: encode.Encoded, volume: volumes.Volume, ceiling: np.ndarray,
                 out: dict[str, str | Path], title: str, fdr_q: float) -> None:
    """A feature space's model: r, p, FDR mask and r^2 over the noise ceiling as volumes, the voxel table,
    the PCA's explained variance and the slices of significant r."""
    import pandas as pd

    from sdbrain.linear import encode
    from sdbrain.maps import volumes
    r2_over_nc = encode.over_noise_ceiling(result.r, ceiling)
    volume.save(result.r, out["r"])
    volume.save(result.p, out["p"])
    volume.save(result.significant.astype(np.float32), out["fdr"])
    volume.save(r2_over_nc, out["nc"])
    pd.DataFrame({"voxel": volume.voxels, "r": result.r, "p": result.p, "significant": result.significant.astype(int),
                  "alpha": result.alphas, "noise_ceiling": ceiling, "r2_over_nc": r2_over_nc}).to_csv(
        out["table"], sep="\t", index=False)
    pd.DataFrame({"component": np.arange(1, x.explained_variance.size + 1),
                  "explained_variance_ratio": x.explained_variance}).to_csv(out["pca"], sep="\t", index=False)
    volumes.slices_png(volume(np.where(result.significant, result.r, np.nan)), out["png"],
                    f"{title}, significant voxels (BH-FDR q={fdr_q})", underlay=volume.mask, affine=volume.affine)


def write_joint(result: encode.Encoded, r_z: np.ndarray, r_other: np.ndarray, space: str, volume: volumes.Volume,
                out: dict[str, str | Path], title: str, fdr_q: float) -> tuple[np.ndarray, np.ndarray]:
    """The joint model z + ``space``: r, FDR mask, the unique variance of z and of ``space`` as volumes, the
    voxel table and the slices; returns (unique z, unique ``space``)."""
    import pandas as pd

    from sdbrain.linear import encode
    from sdbrain.maps import volumes
    unique_z, unique_other = encode.unique_variance(result.r, r_other), encode.unique_variance(result.r, r_z)
    volume.save(result.r, out["r"])
    volume.save(result.significant.astype(np.float32), out["fdr"])
    volume.save(unique_z, out["unique_z"])
    volume.save(unique_other, out["unique_other"])
    pd.DataFrame({"voxel": volume.voxels, "r": result.r, "p": result.p, "significant": result.significant.astype(int),
                  "alpha": result.alphas, "r_z": r_z, f"r_{space}": r_other, "unique_z": unique_z,
                  f"unique_{space}": unique_other}).to_csv(out["table"], sep="\t", index=False)
    volumes.unique_slices_png(volume, result.significant, unique_z, unique_other, space, out["png"],
                           f"{title} (voxels significant at BH-FDR q={fdr_q})")
    return unique_z, unique_other


def write_best_layer(r: np.ndarray, significant: np.ndarray, layers: list[str], volume: volumes.Volume,
                     out: dict[str, str | Path], title: str) -> dict[str, int]:
    """From the (layers, voxels) r and FDR masks of one step's layer models: the best layer per voxel as a
    volume (0: no layer significant), its table and slices; returns the voxel count per layer."""
    import pandas as pd

    from sdbrain.linear import encode
    from sdbrain.maps import volumes
    best = encode.best_layer(r, significant)
    volume.save(best.astype(np.float32), out["nifti"], fill=0)
    names = ["none"] + list(layers)
    pd.DataFrame({"voxel": volume.voxels, "best_layer": best, "layer": [names[b] for b in best],
                  "r": np.where(best > 0, r.max(axis=0), np.nan)}).to_csv(out["table"], sep="\t", index=False)
    volumes.slices_png(volume(np.where(best > 0, best, np.nan)), out["png"],
                    f"{title}: best U-Net layer (1-{len(layers)}: {', '.join(layers)})", underlay=volume.mask,
                    affine=volume.affine, cmap=volumes.categorical(len(layers)), vmin=0.5, vmax=len(layers) + 0.5)
    return {name: int((best == k).sum()) for k, name in enumerate(names)}
