"""Rules encode_level and encode_steps: every encoding model of one subject at one noise level in one process.

encode_level: the final z_c's model and the joint model z + z_c (Figs. 6-7); encode_steps: the models of z_c
and of each U-Net layer at each denoising step, the joint models z + z_c at each step, and the best layer per
voxel at each step (Figs. 8-9). Each space is PCA-reduced once for its own model and its joint one; z once.
"""
from pathlib import Path

import numpy as np

from sdbrain.linear import encode, encode_maps
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, w = snakemake.params, snakemake.input, snakemake.wildcards
    q = p.encode["fdr_q"]
    data = encode.responses(Path(i.train_ids).parent)
    volume, ceiling = encode_maps.volume_and_ceiling(p.nsd_root, w.subject, p.sessions, data)
    log.info("%s, noise level %s: %d models, %d joint with z, %d best-layer maps; %d voxels; %d train trials of "
             "%d images, %d test images", w.subject, w.level, len(p.single), len(p.joint),
             len(p.layer_groups), len(data.columns), len(data.train_rows), len(data.train_images),
             len(data.test_ids))
    z = encode.reduced_space(i.z, i.z_ids, data, p.encode["pca_components"], p.encode["seed"]) if p.joint else None
    r_z = encode.read_voxels(i.z_table, volume.voxels)["r"].to_numpy() if p.joint else None
    fits = {}
    for space, features, ids in zip(p.single, i.features, i.feature_ids):
        x = encode.reduced_space(features, ids, data, p.encode["pca_components"], p.encode["seed"])
        result = fits[space] = encode.fit(x, data, p.encode)
        encode_maps.write_single(x, result, volume, ceiling, encode_maps.files(f"{p.folder}/{space}", encode_maps.SINGLE),
                                    f"{w.subject}: r of the {space} model", q)
        log.info("%s: %d features (PCA: %s), backend %s; r: median %.3f, max %.3f; %d voxels significant", space,
                 x.train.shape[1], "yes" if x.explained_variance.size else "no", result.backend,
                 np.nanmedian(result.r), np.nanmax(result.r), result.significant.sum())
        if space in p.joint:
            joint = encode.fit(encode.joint(z, x), data, p.encode)
            unique_z, unique_other = encode_maps.write_joint(
                joint, r_z, result.r, space, volume,
                encode_maps.files(f"{p.folder}/z+{space}", encode_maps.JOINT, space),
                f"{w.subject}: unique variance in the joint z + {space} model", q)
            sig = joint.significant
            log.info("z+%s: %d voxels significant; among them mean unique variance: z %.4f, %s %.4f", space, sig.sum(),
                     unique_z[sig].mean() if sig.any() else np.nan, space,
                     unique_other[sig].mean() if sig.any() else np.nan)
    for group, layers in p.layer_groups.items():
        counts = encode_maps.write_best_layer(
            np.stack([fits[s].r for s in layers]), np.stack([fits[s].significant for s in layers]), p.layers, volume,
            encode_maps.files(f"{p.folder}/{group}", encode_maps.LAYERS), f"{w.subject}, {group}")
        log.info("%s: best layer of %d significant voxels: %s", group, sum(counts.values()) - counts["none"], counts)


job.run(main, snakemake)
