"""Stable Diffusion: the pipeline, the stimuli's features z and c, and z_c with U-Net activations.

The pipeline loaded offline and run (``pipeline``), the stimuli's image latent z and caption
embedding c (``features``), and z_c with U-Net activations during image-to-image denoising (``diffusion``).
"""
