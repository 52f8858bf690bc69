"""Rule caption_c: c (the diffusion model's CLIP embedding) of a subject's decoded captions, method text's c."""
import pandas as pd

from sdbrain import devices
from sdbrain.data.io import save_array, write_ids
from sdbrain.sd import features, pipeline
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, out = snakemake.params, snakemake.output
    table = pd.read_csv(snakemake.input.captions, sep="\t", keep_default_na=False)
    device = devices.cuda_or_cpu(p.features["device"])
    pipe = pipeline.load_pipeline(p.model_dir, device)
    ids = table["nsd_id"].to_numpy()
    c = features.encode_c(pipe, [[caption] for caption in table["decoded"]], ids, p.features["batch_size"])
    save_array(out.values, c)
    write_ids(out.values_ids, ids)
    log.info("%s: c of %d decoded captions on %s", snakemake.wildcards.subject, len(ids), device)


job.run(main, snakemake)
