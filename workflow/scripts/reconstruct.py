"""Rule reconstruct: X_z, X_c or X_zc of one chunk of test images, n samples each, as PNGs."""
from pathlib import Path

import numpy as np
from PIL import Image

from sdbrain import batches, reconstruct, sd, spaces
from sdbrain.errors import guarded
from sdbrain.io import load_rows
from sdbrain.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, w = snakemake.params, snakemake.wildcards
    method, strength = spaces.parse_method(w.method)
    z = c = None
    if "z" in snakemake.input.keys():
        z, ids = load_rows(snakemake.input.z, snakemake.input.z_ids)
    if "c" in snakemake.input.keys():
        c, ids = load_rows(snakemake.input.c, snakemake.input.c_ids, expected_ids=None if z is None else ids)
    rows = np.isin(ids, batches.job_chunk(ids, int(w.chunk), p.reconstruct["n_chunks"], p.reconstruct["batch_size"]))
    ids = ids[rows]
    device = sd.device(p.reconstruct["device"], "reconstruct.device")
    pipe = sd.load_pipeline(p.model_dir, device)
    reconstruct.check_features(pipe, z, c, p.z_size, source=f"decoded features of {w.subject}")
    if not rows.any():  # more chunks than batches: nothing to do
        images = np.zeros((0, 1, 1, 1, 3), dtype=np.uint8)
    else:
        images = reconstruct.run(pipe, method, strength, ids, None if z is None else z[rows], None if c is None else c[rows],
                                 p.z_size, p.reconstruct)
    out = Path(snakemake.output[0])
    tmp = out.with_name(out.name + ".tmp")
    tmp.mkdir(parents=True, exist_ok=True)
    for i, samples in zip(ids, images):
        for s, image in enumerate(samples):
            Image.fromarray(image).save(tmp / f"{i}_{s}.png")
    tmp.rename(out)
    log.info("%s %s chunk %s: %d images x %d samples on %s", w.subject, w.method, w.chunk, len(ids), images.shape[1], device)


guarded(main, snakemake)
