"""Rule encode_summary: per streams ROI, mean r and significant share of each space, unique variance, best layers."""
import pandas as pd

from sdbrain import nsd
from sdbrain.errors import guarded
from sdbrain.logs import setup

STREAMS = {0: "unlabelled", **nsd.STREAMS}


def with_roi(path, labels) -> pd.DataFrame:
    table = pd.read_csv(path, sep="\t")
    table["roi"] = [STREAMS.get(int(v), str(v)) for v in labels[table["voxel"].to_numpy()]]
    return table


def main():
    log = setup(snakemake.log[0])
    p, i, out, subject = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.subject
    labels = nsd.read_volume(nsd.Layout(p.nsd_root).roi(subject, "streams")).ravel()
    single, unique, layers = [], [], []
    for space, path in zip(p.single, i.single):
        for roi, part in with_roi(path, labels).groupby("roi"):
            single.append({"subject": subject, "space": space, "roi": roi, "voxels": len(part),
                           "mean_r": part["r"].mean(), "significant_fraction": part["significant"].mean(),
                           "mean_noise_ceiling": part["noise_ceiling"].mean(),
                           "mean_r2_over_nc": part["r2_over_nc"].mean()})
    for space, path in zip(p.joint, i.joint):
        for roi, part in with_roi(path, labels).groupby("roi"):
            sig = part[part["significant"] == 1]  # unique variance where the joint model predicts
            unique.append({"subject": subject, "joint": f"z+{space}", "roi": roi, "significant_voxels": len(sig),
                           "mean_r_joint": part["r"].mean(), "unique_z": sig["unique_z"].mean(),
                           "unique_other": sig[f"unique_{space}"].mean()})
    for group, path in zip(p.groups, i.layers):
        table = with_roi(path, labels)
        table = table[table["best_layer"] > 0]
        for roi, part in table.groupby("roi"):
            shares = part["layer"].value_counts(normalize=True)
            layers.append({"subject": subject, "step": group, "roi": roi, "significant_voxels": len(part),
                           **{f"share_{k}": v for k, v in shares.items()}})
    layer_columns = ["subject", "step", "roi", "significant_voxels"] + [f"share_{k}" for k in p.layers]
    for table, path in ((pd.DataFrame(single), out.single), (pd.DataFrame(unique), out.unique),
                        (pd.DataFrame(layers, columns=layer_columns).fillna(0.0), out.layers)):
        table.to_csv(path, sep="\t", index=False)
        log.info("%s\n%s", path, table.to_string(index=False))


guarded(main, snakemake)
