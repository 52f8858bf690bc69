"""Rule encode_joint: the joint model of z and another space, and the unique variance of each (Figs. 7-8)."""
from pathlib import Path

import numpy as np
import pandas as pd

from sdbrain import encode, maps, nsd
from sdbrain.errors import guarded
from sdbrain.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
    data = encode.responses(Path(i.train_ids).parent)
    x = encode.joint(*encode.joint_parts((i.z, i.z_ids), (i.other, i.other_ids), data, p.encode))
    log.info("%s z+%s: %d features -> %d voxels", w.subject, w.space, x.train.shape[1], len(data.columns))
    result = encode.fit(x, data, p.encode)
    voxels = data.voxels["voxel"].to_numpy()
    r_z, r_other = (encode.read_voxels(path, voxels)["r"].to_numpy() for path in (i.z_table, i.other_table))
    unique_z, unique_other = encode.unique_variance(result.r, r_other), encode.unique_variance(result.r, r_z)
    volume = maps.Volume(nsd.Layout(p.nsd_root).roi(w.subject, "brainmask"), voxels)
    volume.save(result.r, out.r)
    volume.save(result.significant.astype(np.float32), out.fdr)
    volume.save(unique_z, out.unique_z)
    volume.save(unique_other, out.unique_other)
    pd.DataFrame({"voxel": voxels, "r": result.r, "p": result.p, "significant": result.significant.astype(int),
                  "alpha": result.alphas, "r_z": r_z, f"r_{w.space}": r_other, "unique_z": unique_z,
                  f"unique_{w.space}": unique_other}).to_csv(out.table, sep="\t", index=False)
    sig = result.significant
    log.info("%d of %d voxels significant; among them mean unique variance: z %.4f, %s %.4f", sig.sum(), len(sig),
             unique_z[sig].mean() if sig.any() else np.nan, w.space, unique_other[sig].mean() if sig.any() else np.nan)
    maps.unique_slices_png(volume, sig, unique_z, unique_other, w.space, out.png,
                           f"{w.subject}: unique variance in the joint z + {w.space} model (voxels significant "
                           f"at BH-FDR q={p.encode['fdr_q']})")


guarded(main, snakemake)
