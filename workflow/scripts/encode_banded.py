"""Rule encode_banded: the banded ridge joint model of z and another space, its split r^2 and unique variance."""
from pathlib import Path

import numpy as np

from sdbrain.data import nsd
from sdbrain.linear import banded, encode, encode_maps
from sdbrain.maps import volumes
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, out, w = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards
    data = encode.responses(Path(i.train_ids).parent)
    parts = [encode.reduced_space(values, ids, data, p.encode["pca_components"], p.encode["seed"])
             for values, ids in ((i.z, i.z_ids), (i.other, i.other_ids))]
    log.info("%s z+%s banded: %s features -> %d voxels", w.subject, w.space,
             " + ".join(str(x.train.shape[1]) for x in parts), len(data.columns))
    result = banded.fit(parts, data, encode.Settings.pick(p.encode), banded.Settings.pick(p.encode["banded"]),
                        p.encode["seed"])
    log.info("fitted with %s", result.backend)
    voxels = data.voxels["voxel"].to_numpy()
    r_z, r_other = (encode.read_voxels(path, voxels)["r"].to_numpy() for path in (i.z_table, i.other_table))
    volume = volumes.Volume(nsd.Layout(p.nsd_root).roi(w.subject, "brainmask"), voxels)
    # the paper's unique variance, from the banded joint model
    unique_z, unique_other = encode_maps.write_joint(
        result, r_z, r_other, w.space, volume, dict(out.items()),
        f"{w.subject}: unique variance in the banded z + {w.space} model", p.encode["fdr_q"])
    sig = result.significant
    means = [v[sig].mean() if sig.any() else np.nan for v in (*result.split, unique_z, unique_other)]
    log.info("%d of %d voxels significant; among them mean split r^2 z %.4f, %s %.4f; mean unique variance "
             "z %.4f, %s %.4f", sig.sum(), len(sig), means[0], w.space, means[1], means[2], w.space, means[3])


job.run(main, snakemake, keys={"solver": "encode.banded.solver"})
