"""Rule flatmaps_banded: the banded joint models' unique variance and split r^2 on a subject's flatmap."""
from sdbrain.maps import flatmaps
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i, out, subject = snakemake.params, snakemake.input, snakemake.output, snakemake.wildcards.subject
    mapper = flatmaps.subject_mapper(p.pycortex_dir, p.nsd_root, subject, p.cx_subject, p.xfm, p.height,
                                     p.outline_labels)
    q = f"BH-FDR q={p.fdr_q}"
    for k, space in enumerate(p.joint):
        for what, label, png in (("unique", "unique variance", out.unique[k]), ("split", "split r^2", out.split[k])):
            pair = [flatmaps.masked(getattr(i, f"{what}_{side}")[k], i.fdr[k]) for side in ("z", "other")]
            flatmaps.pair(mapper, pair, png, [f"{label}: z", f"{label}: {space}"],
                          f"{subject}: {label} in the banded joint z + {space} model ({q})", label=label,
                          note=p.note)
    log.info("%s: %d flatmaps", subject, len(out.unique) + len(out.split))


job.run(main, snakemake)
