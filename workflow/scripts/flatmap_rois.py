"""Rule flatmap_rois: the streams ROIs on a subject's flatmap (and pycortex's flatmap caches, built once)."""
import numpy as np

from sdbrain.data import nsd
from sdbrain.maps import flatmaps, pycortex_env
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup

STREAMS = [nsd.STREAMS[k] for k in sorted(nsd.STREAMS)]


def main():
    log = setup(snakemake.log[0])
    p, subject = snakemake.params, snakemake.wildcards.subject
    cortex = pycortex_env.import_cortex(p.pycortex_dir, subjects=(p.cx_subject,))
    flatmaps.prepare(cortex, p.cx_subject, p.xfm, p.height)
    mapper = flatmaps.Flatmapper(cortex, p.cx_subject, p.xfm, p.height)
    labels = nsd.read_volume(nsd.Layout(p.nsd_root).roi(subject, "streams")).astype(np.float32)
    labels[labels <= 0] = np.nan
    flatmaps.single(mapper, labels, snakemake.output[0], f"{subject}: NSD streams ROIs on {p.cx_subject}'s flatmap",
                    cmap=flatmaps.categorical(len(STREAMS)), vmin=0.5, vmax=len(STREAMS) + 0.5,
                    ticks=range(1, len(STREAMS) + 1), ticklabels=STREAMS, note=p.note)
    log.info("%s: pycortex %s / %s, %d labelled voxels", subject, p.cx_subject, p.xfm, int(np.isfinite(labels).sum()))


job.run(main, snakemake)
