"""Rule flatmaps: every encoding map of a subject on its flatmap (significant voxels only)."""
import numpy as np

from sdbrain.data import nsd
from sdbrain.maps import flatmaps
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, out, subject = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.subject
    mapper = flatmaps.subject_mapper(p.pycortex_dir, p.nsd_root, subject, p.cx_subject, p.xfm, p.height,
                                     p.outline_labels)
    q = f"BH-FDR q={p.fdr_q}"
    for space, r, fdr, png in zip(p.single, i.r, i.fdr, out.r):
        flatmaps.single(mapper, flatmaps.masked(r, fdr), png, f"{subject}: r of the {space} model ({q})", label="r",
                        note=p.note)
    for space, unique_z, unique_other, fdr, png in zip(p.joint, i.unique_z, i.unique_other, i.joint_fdr, out.unique):
        flatmaps.pair(mapper, [flatmaps.masked(unique_z, fdr), flatmaps.masked(unique_other, fdr)], png,
                      ["unique to z", f"unique to {space}"],
                      f"{subject}: unique variance in the joint z + {space} model ({q})", note=p.note)
    layers = list(p.layers)
    for group, best, png in zip(p.groups, i.best, out.best):
        volume = nsd.read_volume(best).astype(np.float32)
        volume[volume <= 0] = np.nan
        flatmaps.single(mapper, volume, png, f"{subject}, {group}: U-Net layer with the highest r",
                        cmap=flatmaps.categorical(len(layers)), vmin=0.5, vmax=len(layers) + 0.5,
                        ticks=range(1, len(layers) + 1), ticklabels=layers, note=p.note)
    log.info("%s: %d flatmaps", subject, len(out.r) + len(out.unique) + len(out.best))


job.run(main, snakemake)
