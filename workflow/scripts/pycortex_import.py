"""Rule pycortex_import: an NSD subject's FreeSurfer surfaces, flat patches and func1pt8mm transform into
the workflow's pycortex filestore."""
from pathlib import Path

from sdbrain.data import nsd
from sdbrain.maps import pycortex_env
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, subject = snakemake.params, snakemake.wildcards.subject
    cortex = pycortex_env.import_cortex(p.pycortex_dir, subjects=())
    layout = nsd.Layout(p.nsd_root)
    pycortex_env.import_freesurfer_subject(cortex, subject, Path(p.nsd_root) / "nsddata" / "freesurfer",
                                           layout.roi(subject, "brainmask"), p.xfm, p.patch)
    log.info("%s imported into %s with transform %s", subject, p.pycortex_dir, p.xfm)


job.run(main, snakemake)
