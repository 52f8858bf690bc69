"""What the encoding jobs write for each model: single-space models, joint models and best layers.

A feature space's own model, a joint model z + X with the unique variance of each, and the best U-Net
layer per voxel (Fig. 9).

Each writer takes ``out``, the file of each of its outputs by key (the keys each writer lists; the workflow names
the files, ``sdbrain.workflow.paths``). One job fits every model of one subject at one noise level (rules
encode_level and encode_steps) in one process, so the start-up (Python, torch, scikit-learn, matplotlib) and the
betas' loading are paid once per level, not once per model.
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from sdbrain.data import nsd
from sdbrain.linear import encode, stats
from sdbrain.maps import volumes

if TYPE_CHECKING:
    from sdbrain.linear.banded import Banded

log = logging.getLogger("sdbrain")


def volume_and_ceiling(nsd_root, subject: str, sessions, data: encode.Responses) -> tuple[volumes.Volume, np.ndarray]:
    """Read the subject's brain-mask volume that every map fills, and the noise ceiling of each of its voxels.

    The noise ceiling comes from NSD's ncsnr and the test images' repeats in ``sessions``.
    """
    layout = nsd.Layout(nsd_root)
    volume = volumes.Volume(layout.roi(subject, "brainmask"), data.voxels["voxel"].to_numpy())
    ceiling = stats.noise_ceiling(nsd.read_volume(layout.ncsnr(subject)).ravel()[volume.voxels],
                                  nsd.test_repeats(layout, subject, sessions, data.test_ids))
    return volume, ceiling


def write_single(x: encode.Reduced, result: encode.Encoded, volume: volumes.Volume, ceiling: np.ndarray,
                 out: dict[str, str | Path], title: str, fdr_q: float) -> None:
    """Write a feature space's model.

    ``out`` names the files: ``r``, ``p``, ``fdr`` (BH-FDR mask) and ``nc`` (r^2 over the noise ceiling) as
    volumes, ``table`` (voxels), ``pca`` (the PCA's explained variance) and ``png`` (slices of significant r).
    """
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


def write_joint(result: encode.Encoded | Banded, r_z: np.ndarray, r_other: np.ndarray, space: str,
                volume: volumes.Volume, out: dict[str, str | Path], title: str,
                fdr_q: float) -> tuple[np.ndarray, np.ndarray]:
    """Write the joint model z + ``space``, concatenated (``encode.Encoded``) or banded (``banded.Banded``).

    ``out`` names the files: ``r``, ``fdr``, ``unique_z`` and ``unique_other`` (the unique variance of z and of
    ``space``) as volumes, for a banded model also ``split_z`` and ``split_other`` (each space's share of the
    test R^2); ``table`` (voxels: a banded model's alpha and split per space) and ``png`` (slices of the unique
    variance). ``r_z`` and ``r_other`` are the r of each space's own model. Returns (unique z, unique ``space``).
    """
    unique_z, unique_other = encode.unique_variance(result.r, r_other), encode.unique_variance(result.r, r_z)
    split = getattr(result, "split", None)
    columns = {"voxel": volume.voxels, "r": result.r, "p": result.p, "significant": result.significant.astype(int)}
    if split is None:
        columns["alpha"] = result.alphas
    else:  # banded: one alpha and one share of R^2 per space
        columns.update({"alpha_z": result.alphas[0], f"alpha_{space}": result.alphas[1], "split_z": split[0],
                        f"split_{space}": split[1]})
        volume.save(split[0], out["split_z"])
        volume.save(split[1], out["split_other"])
    volume.save(result.r, out["r"])
    volume.save(result.significant.astype(np.float32), out["fdr"])
    volume.save(unique_z, out["unique_z"])
    volume.save(unique_other, out["unique_other"])
    pd.DataFrame({**columns, "r_z": r_z, f"r_{space}": r_other, "unique_z": unique_z,
                  f"unique_{space}": unique_other}).to_csv(out["table"], sep="\t", index=False)
    volumes.unique_slices_png(volume, result.significant, unique_z, unique_other, space, out["png"],
                              f"{title} (voxels significant at BH-FDR q={fdr_q})")
    return unique_z, unique_other


def write_best_layer(r: np.ndarray, significant: np.ndarray, layers: list[str], volume: volumes.Volume,
                     out: dict[str, str | Path], title: str) -> dict[str, int]:
    """Write the best layer per voxel from the (layers, voxels) r and FDR masks of one step's layer models.

    ``out`` names the files: ``nifti`` (the layer's number per voxel, 0 where no layer is significant),
    ``table`` and ``png`` (slices). Returns the voxel count per layer.
    """
    best = encode.best_layer(r, significant)
    volume.save(best.astype(np.float32), out["nifti"], fill=0)
    names = ["none"] + list(layers)
    pd.DataFrame({"voxel": volume.voxels, "best_layer": best, "layer": [names[b] for b in best],
                  "r": np.where(best > 0, r.max(axis=0), np.nan)}).to_csv(out["table"], sep="\t", index=False)
    volumes.slices_png(volume(np.where(best > 0, best, np.nan)), out["png"],
                       f"{title}: best U-Net layer (1-{len(layers)}: {', '.join(layers)})", underlay=volume.mask,
                       affine=volume.affine, cmap=volumes.categorical(len(layers)), vmin=0.5, vmax=len(layers) + 0.5)
    return {name: int((best == k).sum()) for k, name in enumerate(names)}


def write_level(data: encode.Responses, volume: volumes.Volume, ceiling: np.ndarray, subject: str,
                spaces: dict[str, tuple[str, str]], joint: list[str], layer_groups: dict[str, list[str]],
                layers: list[str], settings: encode.Settings, pca_components: int, seed: int,
                outputs: dict[str, dict[str, str | Path]], z: tuple[str, str] | None = None,
                z_table: str | Path | None = None) -> None:
    """Fit and write every model of a subject at one noise level, in one process.

    Each space is PCA-reduced once for its own model and its joint model with z; z once.

    Parameters
    ----------
    data, volume, ceiling
        The subject's responses, its brain-mask volume and noise ceiling (``volume_and_ceiling``).
    subject : str
        Names the subject in titles.
    spaces : dict
        Each space's model: space -> (features file, its ids file).
    joint : list of str
        The spaces also modelled jointly with z (``z`` and ``z_table`` then give z's features and model).
    layer_groups : dict
        Group -> its spaces (U-Net layers at one step), whose best layer per voxel is written.
    layers : list of str
        The layers' names, in the groups' order.
    settings : encode.Settings
        How the models are fitted and scored.
    pca_components, seed : int
        Spaces wider than ``pca_components`` are reduced by a PCA seeded with ``seed``.
    outputs : dict
        Each model's files (``write_single``, ``write_joint``, ``write_best_layer``): by space, by 'z+<space>'
        and by group.
    """
    z_space = encode.reduced_space(*z, data, pca_components, seed) if joint else None
    r_z = encode.read_voxels(z_table, volume.voxels)["r"].to_numpy() if joint else None
    fits = {}
    for space, files in spaces.items():
        x = encode.reduced_space(*files, data, pca_components, seed)
        result = fits[space] = encode.fit(x, data, settings)
        write_single(x, result, volume, ceiling, outputs[space], f"{subject}: r of the {space} model", settings.fdr_q)
        log.info("%s: %d features (PCA: %s), backend %s; r: median %.3f, max %.3f; %d voxels significant", space,
                 x.train.shape[1], "yes" if x.explained_variance.size else "no", result.backend,
                 np.nanmedian(result.r), np.nanmax(result.r), result.significant.sum())
        if space in joint:
            model = encode.fit(encode.joint(z_space, x), data, settings)
            unique_z, unique_other = write_joint(model, r_z, result.r, space, volume, outputs[f"z+{space}"],
                                                 f"{subject}: unique variance in the joint z + {space} model",
                                                 settings.fdr_q)
            sig = model.significant
            log.info("z+%s: %d voxels significant; among them mean unique variance: z %.4f, %s %.4f", space, sig.sum(),
                     unique_z[sig].mean() if sig.any() else np.nan, space,
                     unique_other[sig].mean() if sig.any() else np.nan)
    for group, members in layer_groups.items():
        counts = write_best_layer(np.stack([fits[s].r for s in members]),
                                  np.stack([fits[s].significant for s in members]), layers, volume, outputs[group],
                                  f"{subject}, {group}")
        log.info("%s: best layer of %d significant voxels: %s", group, sum(counts.values()) - counts["none"], counts)
