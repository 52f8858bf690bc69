"""Rule train_toy_model: train the toy latent diffusion model (VAE, text encoder, U-Net) and its scorer."""
from sdbrain.toy.train import train
from sdbrain.workflow import job
from sdbrain.workflow.logs import setup


def main():
    log = setup(snakemake.log[0])
    train(snakemake.output.model, snakemake.output.scorer, snakemake.params.train, log.info)


job.run(main, snakemake)
