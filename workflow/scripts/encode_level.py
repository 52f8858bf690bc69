"""Rules encode_level and encode_steps: every encoding model of one subject at one noise level in one process.

encode_level: the final z_c's model and the joint model z + z_c (Figs. 6-7); encode_steps: the models of z_c
and of each U-Net layer at each denoising step, the joint models z + z_c at each step, and the best layer per
voxel at each step (Figs. 8-9).
"""
from pathlib import Path

from sdbrain.linear import encode, encode_maps
from sdbrain.workflow import job, paths
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, w = snakemake.params, snakemake.input, snakemake.wildcards
    data = encode.responses(Path(i.train_ids).parent)
    volume, ceiling = encode_maps.volume_and_ceiling(p.nsd_root, w.subject, p.sessions, data)
    log.info("%s, noise level %s: %d models, %d joint with z, %d best-layer maps; %d voxels; %d train trials of "
             "%d images, %d test images", w.subject, w.level, len(p.single), len(p.joint),
             len(p.layer_groups), len(data.columns), len(data.train_rows), len(data.train_images),
             len(data.test_ids))
    outputs = {space: paths.model_files(paths.SINGLE, space, w.subject) for space in p.single}
    outputs.update({paths.joint(s): paths.model_files(paths.JOINT, paths.joint(s), w.subject, s) for s in p.joint})
    outputs.update({group: paths.model_files(paths.LAYERS, group, w.subject) for group in p.layer_groups})
    joint = list(p.joint)
    encode_maps.write_level(data, volume, ceiling, w.subject, dict(zip(p.single, zip(i.features, i.feature_ids))),
                            joint, dict(p.layer_groups), list(p.get("layers", [])), encode.Settings.pick(p.encode),
                            p.encode["pca_components"], p.encode["seed"], outputs,
                            z=(i.z, i.z_ids) if joint else None, z_table=i.z_table if joint else None)


job.run(main, snakemake)
