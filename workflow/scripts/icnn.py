"""Rule icnn: method gan, one iCNN image per test image of a chunk, from its decoded VGG19 features.

Each image is saved at the model's resolution (reconstruct.image_size, X_z's filter): the released code's gan
method resizes the iCNN image to 512 before image-to-image, and the evaluation compares methods at one size.
"""
import numpy as np
from PIL import Image

from sdbrain import devices
from sdbrain.data.io import atomic_dir, load_rows
from sdbrain.gan import icnn, networks
from sdbrain.reconstruction import reconstruct
from sdbrain.sd.features import resize
from sdbrain.sd.pipeline import resample_filter
from sdbrain.workflow import chunks, job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, w = snakemake.params, snakemake.wildcards
    layers, ids, decoded = p.gan["layers"], None, {}
    for layer in layers:
        decoded[layer], ids = load_rows(snakemake.input[layer], snakemake.input[f"{layer}_ids"], expected_ids=ids)
    device = devices.cuda_or_cpu(p.reconstruct["device"])
    encoder = networks.load_encoder(snakemake.input.encoder, device)
    generator = networks.load_generator(snakemake.input.generator, device)
    settings = icnn.Settings.pick({**p.gan["icnn"], "channel_order": p.gan["channel_order"]})
    rows = np.flatnonzero(np.isin(ids, chunks.job_chunk(ids, int(w.chunk), p.reconstruct["n_chunks"],
                                                        p.reconstruct["batch_size"])))
    resample = resample_filter(p.reconstruct["x_z_resample"])  # as X_z reaches the model's size
    with atomic_dir(snakemake.output[0]) as tmp:
        for row in rows:
            image, loss = icnn.reconstruct(encoder, generator, {k: decoded[k][row] for k in layers}, ids[row],
                                           p.gan["seed"], settings)
            image = resize(image[None], p.reconstruct["image_size"], resample)[0]
            Image.fromarray(image).save(tmp / reconstruct.png_name(ids[row], 0))
            log.info("%s: iCNN loss %.4g -> %.4g in %d iterations", ids[row], loss[0], loss[-1], len(loss))
    log.info("%s gan chunk %s: %d images on %s", w.subject, w.chunk, len(rows), device)


job.run(main, snakemake)
