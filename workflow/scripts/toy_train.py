"""Rule train_toy_model: train the toy latent diffusion model (VAE, text encoder, U-Net) and its scorer."""
from sdbrain.errors import guarded
from sdbrain.logs import setup
from sdbrain.toy.train import train


def main():
    log = setup(snakemake.log[0])
    train(snakemake.output.model, snakemake.output.scorer, snakemake.params.train, log.info)


guarded(main, snakemake)
