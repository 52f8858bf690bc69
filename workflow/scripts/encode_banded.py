"""Rule encode_banded: the banded ridge joint model of z and another space, its split r^2 and unique variance."""
from pathlib import Path

import numpy as np
import pandas as pd

from sdbrain.data import nsd
from sdbrain.linear import banded, encode
from sdbrain.maps import volumes
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
    data = encode.responses(Path(i.train_ids).parent)
    parts = encode.joint_parts((i.z, i.z_ids), (i.other, i.other_ids), data, p.encode)
    log.info("%s z+%s banded: %s features -> %d voxels", w.subject, w.space,
             " + ".join(str(x.train.shape[1]) for x in parts), len(data.columns))
    result = banded.fit(parts, data, p.encode)
    log.info("fitted with %s", result.backend)
    voxels = data.voxels["voxel"].to_numpy()
    r_z, r_other = (encode.read_voxels(path, voxels)["r"].to_numpy() for path in (i.z_table, i.other_table))
    # the paper's unique variance, from the banded joint model
    unique_z, unique_other = encode.unique_variance(result.r, r_other), encode.unique_variance(result.r, r_z)
    volume = volumes.Volume(nsd.Layout(p.nsd_root).roi(w.subject, "brainmask"), voxels)
    for values, path in ((result.r, out.r), (result.significant.astype(np.float32), out.fdr),
                         (result.split[0], out.split_z), (result.split[1], out.split_other),
                         (unique_z, out.unique_z), (unique_other, out.unique_other)):
        volume.save(values, path)
    pd.DataFrame({"voxel": voxels, "r": result.r, "p": result.p, "significant": result.significant.astype(int),
                  "alpha_z": result.alphas[0], f"alpha_{w.space}": result.alphas[1],
                  "split_z": result.split[0], f"split_{w.space}": result.split[1], "r_z": r_z,
                  f"r_{w.space}": r_other, "unique_z": unique_z,
                  f"unique_{w.space}": unique_other}).to_csv(out.table, sep="\t", index=False)
    sig = result.significant
    means = [v[sig].mean() if sig.any() else np.nan for v in (*result.split, unique_z, unique_other)]
    log.info("%d of %d voxels significant; among them mean split r^2 z %.4f, %s %.4f; mean unique variance "
             "z %.4f, %s %.4f", sig.sum(), len(sig), means[0], w.space, means[1], means[2], w.space, means[3])
    volumes.unique_slices_png(volume, sig, unique_z, unique_other, w.space, out.png,
                           f"{w.subject}: unique variance in the banded z + {w.space} model (voxels significant "
                           f"at BH-FDR q={p.encode['fdr_q']})")


job.run(main, snakemake)
