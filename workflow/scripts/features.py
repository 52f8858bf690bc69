"""Rule features: z or c of one chunk of the stimuli, with the model loaded once."""
import numpy as np

from sdbrain import devices
from sdbrain.data import nsd
from sdbrain.data.io import read_ids, save_array, write_ids
from sdbrain.sd import features, pipeline
from sdbrain.workflow import chunks, job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    target, k = snakemake.wildcards.target, int(snakemake.wildcards.chunk)
    ids = chunks.job_chunk(read_ids(snakemake.input.stimuli), k, p.features["n_chunks"], p.features["batch_size"])
    device = devices.cuda_or_cpu(p.features["device"])
    pipe = pipeline.load_pipeline(p.model_dir, device)
    layout = nsd.Layout(p.nsd_root)
    if len(ids) == 0:  # more chunks than batches
        shape = pipeline.latent_shape(pipe, p.features["z_size"]) if target == "z" else pipeline.c_shape(pipe)
        values = np.zeros((0, int(np.prod(shape))), dtype=np.float32)
    elif target == "z":
        images = nsd.read_images(layout, ids)
        values = features.encode_z(pipe, images, ids, p.features["z_size"], p.features["z_posterior"] == "sample",
                                   p.features["seed"], p.features["batch_size"])
    else:
        captions = nsd.read_captions(layout)
        values = features.encode_c(pipe, [captions.get(int(i), []) for i in ids], ids, p.features["batch_size"])
    log.info("%s of %d stimuli (chunk %d) on %s: %s", target, len(ids), k, device, values.shape)
    save_array(snakemake.output.values, values)
    write_ids(snakemake.output.values_ids, ids)


job.run(main, snakemake)
