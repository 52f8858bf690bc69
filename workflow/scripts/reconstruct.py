"""Rule reconstruct: X_z, X_c, X_zc, text or gan_text of one chunk of test images, n samples each, as PNGs.

Method text is X_zc's image-to-image with c the CLIP embedding of each image's decoded caption (rule caption_c);
method gan_text is image-to-image from method gan's iCNN image (rule icnn) with that c.
"""
import numpy as np
import pandas as pd
from PIL import Image

from sdbrain import devices
from sdbrain.data.io import atomic_dir, load_rows
from sdbrain.reconstruction import reconstruct
from sdbrain.sd import pipeline
from sdbrain.workflow import chunks, job, spaces
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, w = snakemake.params, snakemake.wildcards
    method, strength = spaces.parse_method(w.method)
    z = c = None
    if "z" in snakemake.input.keys():
        z, ids = load_rows(snakemake.input.z, snakemake.input.z_ids)
    if "c" in snakemake.input.keys():
        c, ids = load_rows(snakemake.input.c, snakemake.input.c_ids, expected_ids=None if z is None else ids)
    device = devices.cuda_or_cpu(p.reconstruct["device"])
    pipe = pipeline.load_pipeline(p.model_dir, device)
    if method == "text":  # X_zc with the decoded caption's c (rule caption_c)
        method, strength = "zc", p.reconstruct["text_strength"]
    rows = np.isin(ids, chunks.job_chunk(ids, int(w.chunk), p.reconstruct["n_chunks"], p.reconstruct["batch_size"]))
    ids, init = ids[rows], None
    if method == "gan_text":  # from the iCNN image (method gan) with the decoded caption's c
        strength, init = p.reconstruct["gan_strength"], gan_images(snakemake.input.gan, ids)
    z_size = p.features["z_size"]
    reconstruct.check_features(pipe, z, c, z_size, source=f"decoded features of {w.subject}")
    sampling = pipeline.Sampling.pick(p.reconstruct)
    z, c, batch = None if z is None else z[rows], None if c is None else c[rows], sampling.batch_size
    with atomic_dir(snakemake.output[0]) as tmp:
        # batch by batch (reconstruct.run's own batches, so the images are the same), each written when done
        for start in range(0, len(ids), batch):
            part = slice(start, start + batch)
            if init is not None:
                images = pipeline.generate(pipe, c[part], ids[part], sampling, init=init[part],
                                           strength=strength, desc="reconstruct")
            else:
                images = reconstruct.run(pipe, method, strength, ids[part], None if z is None else z[part],
                                         None if c is None else c[part], z_size, sampling)
            for i, samples in zip(ids[part], images):
                for s, image in enumerate(samples):
                    Image.fromarray(image).save(tmp / reconstruct.png_name(i, s))
    log.info("%s %s chunk %s: %d images x %d samples on %s", w.subject, w.method, w.chunk, len(ids),
             1 if method == "z" else sampling.n_samples, device)


def gan_images(manifest, ids) -> np.ndarray:
    """Method gan's image of each of ``ids``, from its manifest (one sample per image)."""
    table = pd.read_csv(manifest, sep="\t").set_index("nsd_id")
    return np.stack([np.asarray(Image.open(table.loc[int(i), "path"]).convert("RGB")) for i in ids])


job.run(main, snakemake)
