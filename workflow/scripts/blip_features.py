"""Rule blip_features: BLIP's image tokens of every stimulus (method text), written to disk a batch at a time."""
import numpy as np
from tqdm import tqdm

from sdbrain import devices
from sdbrain.data import nsd
from sdbrain.data.io import RowWriter, read_ids, write_ids
from sdbrain.errors import InputError
from sdbrain.text import blip
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, out = snakemake.params, snakemake.output
    ids = read_ids(snakemake.input.stimuli)
    device = devices.cuda_or_cpu(p.device)
    model = blip.load(snakemake.input.captioner).to(device)
    vision = model.config.vision_config
    if vision.image_size != p.text["image_size"]:
        raise InputError(f"{snakemake.input.captioner}: BLIP is built for {vision.image_size} px but text.image_size is "
                         f"{p.text['image_size']} (convert it at that size: sdbrain-weights blip --image-size)")
    width = int(np.prod(blip.token_shape(model)))
    layout, batch = nsd.Layout(p.nsd_root), p.text["batch_size"]
    with RowWriter(out.values, (len(ids), width)) as values:
        for start in tqdm(range(0, len(ids), batch), desc="blip", unit="batch"):
            values.write(blip.image_tokens(model, nsd.read_images(layout, ids[start:start + batch]), batch))
    write_ids(out.values_ids, ids)
    log.info("BLIP tokens of %d stimuli at %d px on %s: %d values each", len(ids), vision.image_size, device, width)


job.run(main, snakemake)
