"""Rule diffusion_features: z_c (and steps and U-Net layers) of one chunk of the stimuli at one noise level."""
import numpy as np

from sdbrain import devices
from sdbrain.data import nsd
from sdbrain.data.io import align_rows, atomic_dir, load_rows, read_ids, save_array, write_ids
from sdbrain.sd import diffusion, pipeline
from sdbrain.workflow import chunks, job, spaces
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p = snakemake.params
    level, k = float(snakemake.wildcards.level), int(snakemake.wildcards.chunk)
    # the batches of the reconstruction settings, so z_c here equals the image-to-image run there
    sampling = pipeline.Sampling.pick(p.reconstruct)
    ids = chunks.job_chunk(read_ids(snakemake.input.stimuli), k, p.features["n_chunks"], sampling.batch_size)
    device = devices.cuda_or_cpu(p.features["device"])
    pipe = pipeline.load_pipeline(p.model_dir, device)
    steps, layers = p.steps, p.layers  # empty where this level's steps and layers are not captured
    if len(ids):
        c, c_ids = load_rows(snakemake.input.c, snakemake.input.c_ids, mmap=True)
        values = diffusion.extract(pipe, nsd.read_images(nsd.Layout(p.nsd_root), ids),
                                   align_rows(c, c_ids, ids, snakemake.input.c), ids, level, sampling,
                                   steps, layers, p.features["unet_pool"])
    else:  # more chunks than batches: empty parts, skipped by the merge
        values = {name: np.zeros((0, 0), dtype=np.float32) for name in diffusion.names(steps, layers)}
    with atomic_dir(snakemake.output[0]) as tmp:
        for name, array in values.items():
            save_array(tmp / f"{spaces.name(name, level)}.npy", array)
            log.info("%s: %s", spaces.name(name, level), array.shape)
        write_ids(tmp / "ids.tsv", ids)
    log.info("noise level %g, %d stimuli (chunk %d) on %s", level, len(ids), k, device)


job.run(main, snakemake, keys={"layers": "features.unet_layers", "strength": "encode.noise_levels"})
