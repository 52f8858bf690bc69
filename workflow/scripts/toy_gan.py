"""Rule train_toy_gan: the toy GAN init's networks (a random VGG19-shaped encoder, a trained relu7 generator)."""
from sdbrain.toy.gan import train
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    train(snakemake.output[0], snakemake.params.gan, log.info)


job.run(main, snakemake)
