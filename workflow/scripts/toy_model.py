"""Rule toy_model: a tiny SD-structured pipeline with seeded random weights, in diffusers format."""
from sdbrain.data.nsd import Layout, read_captions
from sdbrain.toy.model import build_random_pipeline
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    words = {w for texts in read_captions(Layout(snakemake.input[0])).values() for t in texts for w in t.lower().split()}
    p = snakemake.params.model
    build_random_pipeline(snakemake.output[0], words, p, seed=p["seed"])
    log.info("random SD-structured pipeline (vocabulary of %d caption words) saved to %s", len(words), snakemake.output[0])


job.run(main, snakemake)
