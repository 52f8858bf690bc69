"""Rule encode_layers: for each voxel significant in a layer's model, the U-Net layer with the highest r (Fig. 9)."""
import numpy as np
import pandas as pd

from sdbrain import encode, maps, nsd
from sdbrain.errors import guarded
from sdbrain.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, out, w = snakemake.params, snakemake.output, snakemake.wildcards
    voxels = pd.read_csv(snakemake.input.tables[0], sep="\t", usecols=["voxel"])["voxel"].to_numpy()
    tables = [encode.read_voxels(path, voxels) for path in snakemake.input.tables]
    r = np.stack([t["r"].to_numpy() for t in tables])
    significant = np.stack([t["significant"].to_numpy(bool) for t in tables])
    best = encode.best_layer(r, significant)
    volume = maps.Volume(nsd.Layout(p.nsd_root).roi(w.subject, "brainmask"), voxels)
    volume.save(best.astype(np.float32), out.nifti, fill=0)
    names = ["none"] + list(p.layers)
    pd.DataFrame({"voxel": voxels, "best_layer": best, "layer": [names[b] for b in best],
                  "r": np.where(best > 0, r.max(axis=0), np.nan)}).to_csv(out.table, sep="\t", index=False)
    counts = {name: int((best == k).sum()) for k, name in enumerate(names)}
    log.info("%s %s: best layer of %d significant voxels: %s", w.subject, w.group, int((best > 0).sum()), counts)
    maps.slices_png(volume(np.where(best > 0, best, np.nan)), out.png,
                    f"{w.subject}, {w.group}: best U-Net layer (1-{len(p.layers)}: {', '.join(p.layers)})",
                    underlay=volume.mask, affine=volume.affine, cmap=maps.categorical(len(p.layers)), vmin=0.5,
                    vmax=len(p.layers) + 0.5)


guarded(main, snakemake)
