"""Rule train_toy_captioner: train the toy BLIP captioner (the decoded-text method's captioner in the toy world)."""
from sdbrain.toy.captioner import train
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    train(snakemake.output[0], snakemake.params.captioner, log.info)


job.run(main, snakemake)
