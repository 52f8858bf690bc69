"""Rule captions: BLIP's captions of a subject's test images, from the decoded tokens and from the true ones."""
import json

import pandas as pd

from sdbrain import devices
from sdbrain.data import nsd
from sdbrain.data.io import align_rows, load_rows
from sdbrain.text import blip, captions
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    p, i = snakemake.params, snakemake.input
    device = devices.cuda_or_cpu(p.device)
    model = blip.load(i.captioner).to(device)
    tokenizer = blip.load_tokenizer(i.captioner, model)
    decoded, ids = load_rows(i.decoded, i.decoded_ids, mmap=True)
    features, feature_ids = load_rows(i.features, i.features_ids, mmap=True)
    true_tokens = align_rows(features, feature_ids, ids, i.features)
    settings = captions.Generation(**p.text["generation"], batch_size=p.text["batch_size"])
    truth = nsd.read_captions(nsd.Layout(p.nsd_root))
    table = pd.DataFrame({"nsd_id": ids,
                          "decoded": captions.write(model, tokenizer, decoded, settings),
                          "ceiling": captions.write(model, tokenizer, true_tokens, settings),
                          "true": [json.dumps(truth.get(int(k), [])) for k in ids]})
    table.to_csv(snakemake.output[0], sep="\t", index=False)
    log.info("%s: %d test images captioned on %s, e.g. decoded %r, ceiling %r", snakemake.wildcards.subject,
             len(ids), device, table["decoded"].iloc[0], table["ceiling"].iloc[0])


job.run(main, snakemake)
