"""Rule vgg19_features: VGG19's features of every stimulus (the GAN init's targets), one array per layer."""
from contextlib import ExitStack

import numpy as np
from tqdm import tqdm

from sdbrain import devices
from sdbrain.data import nsd
from sdbrain.data.io import RowWriter, read_ids, write_ids
from sdbrain.gan import networks, vgg19
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, out = snakemake.params, snakemake.output
    ids = read_ids(snakemake.input.stimuli)
    device = devices.cuda_or_cpu(p.device)
    encoder = networks.load_encoder(snakemake.input.encoder, device)
    layers, order, batch = p.gan["layers"], p.gan["channel_order"], p.gan["batch_size"]
    widths = {layer: int(np.prod(shape)) for layer, shape in vgg19.shapes(encoder, layers).items()}
    layout = nsd.Layout(p.nsd_root)
    with ExitStack() as stack:
        writers = {layer: stack.enter_context(RowWriter(out[layer], (len(ids), widths[layer]), p.gan["dtype"]))
                   for layer in layers}
        for start in tqdm(range(0, len(ids), batch), desc="vgg19", unit="batch"):
            values = vgg19.features(encoder, nsd.read_images(layout, ids[start:start + batch]), order, layers)
            for layer in layers:
                writers[layer].write(values[layer])
    for layer in layers:
        write_ids(out[f"{layer}_ids"], ids)
    log.info("VGG19 features of %d stimuli (%s channel order, %s) on %s: %s values per image", len(ids), order,
             p.gan["dtype"], device, widths)


job.run(main, snakemake)
