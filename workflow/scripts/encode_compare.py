"""Rule encode_compare: the concatenated and banded joint models side by side, per ROI (and, in the
toy world, their agreement with the truth's voxel classes)."""
import pandas as pd

from sdbrain.data import nsd
from sdbrain.linear import partition
from sdbrain.workflow import job, paths
from sdbrain.workflow.logs import setup

STREAMS = {0: "unlabelled", **nsd.STREAMS}
AGREEMENT = ["subject", "joint", "approach", "by", "early_voxels", "early_to_z", "ventral_voxels", "ventral_to_other",
             "right"]


def main():
    log = setup(snakemake.log[0])
    p, i, out, subject = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.subject
    labels = nsd.read_volume(nsd.Layout(p.nsd_root).roi(subject, "streams")).ravel()
    rois, agree = [], []
    for space, concatenated, banded in zip(p.joint, i.concatenated, i.banded):
        for approach, path in (("concatenated", concatenated), ("banded", banded)):
            table = pd.read_csv(path, sep="\t")
            table["roi"] = [STREAMS.get(int(v), str(v)) for v in labels[table["voxel"].to_numpy()]]
            head = {"subject": subject, "joint": f"z+{space}", "approach": approach}
            rois += [{**head, **row} for row in partition.roi_rows(table, space, p.clearly_negative)]
            if p.truth:
                classes = partition.truth_classes(paths.toy_truth(subject), table["voxel"].to_numpy())
                significant = table["significant"].to_numpy() == 1
                for measure, to_z in partition.attributions(table, space).items():
                    agree.append({**head, "by": measure, **partition.agreement(to_z, significant, classes)})
    # without the toy world's truth (NSD) the agreement table has its header only
    for frame, path in ((pd.DataFrame(rois), out.rois), (pd.DataFrame(agree, columns=AGREEMENT), out.agreement)):
        frame.to_csv(path, sep="\t", index=False)
        log.info("%s\n%s", path, frame.to_string(index=False))


job.run(main, snakemake)
