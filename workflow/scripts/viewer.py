"""Rule viewer: a static pycortex WebGL viewer of every encoding map of a subject, one layer each."""
from pathlib import Path

from sdbrain.maps import pycortex_env, viewer
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, out, subject = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.subject
    cortex = pycortex_env.import_cortex(p.pycortex_dir, subjects=(p.cx_subject,))
    q = f"BH-FDR q={p.fdr_q}"
    layers = [viewer.Layer(f"r {space}", r, "r", mask=fdr, description=f"r of the {space} model, significant ({q})")
              for space, r, fdr in zip(p.single, i.r, i.fdr)]
    for space, unique_z, unique_other, fdr in zip(p.joint, i.unique_z, i.unique_other, i.joint_fdr):
        about = f"in the joint z + {space} model, voxels significant in it ({q})"
        layers.append(viewer.Layer(f"unique z (z+{space})", unique_z, "unique", mask=fdr,
                                   description=f"unique variance of z {about}"))
        layers.append(viewer.Layer(f"unique {space} (z+{space})", unique_other, "unique", mask=fdr,
                                   description=f"unique variance of {space} {about}"))
    legend = ", ".join(f"{k} {name}" for k, name in enumerate(p.layers, 1))
    layers += [viewer.Layer(f"best layer {group}", best, "layer", description=f"U-Net layer with the highest r: {legend}")
               for group, best in zip(p.groups, i.best)]
    folder = Path(out.html).parent
    table = viewer.build(cortex, p.cx_subject, p.xfm, layers, folder, f"{subject}: encoding maps",
                         n_layers=len(p.layers))
    table.to_csv(out.layers, sep="\t", index=False)
    log.info("%s: viewer of %d maps in %s (%.0f MB)", subject, len(layers), folder,
             sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) / 2**20)


job.run(main, snakemake)
