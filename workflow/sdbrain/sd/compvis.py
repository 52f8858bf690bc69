"""CompVis's image-to-image start in diffusers: the start latent noised one DDIM step above the first step denoised.

The authors' released code runs CompVis's ``DDIMSampler``: ``stochastic_encode`` noises the start latent to
``ddim_timesteps[t_enc]`` and ``decode`` denoises from the step below (with 50 steps and s = 0.8: noised to
t = 801, denoised from 781). diffusers noises to the first timestep it denoises. ``reconstruct.noise_start``
chooses (``pipeline.img2img_pipeline``).
"""
from __future__ import annotations

from diffusers import StableDiffusionImg2ImgPipeline


class CompVisStableDiffusionImg2ImgPipeline(StableDiffusionImg2ImgPipeline):
    """diffusers' image-to-image pipeline with CompVis's noising of the start latent.

    Capped at the last training timestep: CompVis itself has no step above the first at strength 1.
    """

    def prepare_latents(self, image, timestep, *args, **kwargs):
        """Noise the start latent to ``timestep`` plus one DDIM step, then as diffusers does."""
        step = self.scheduler.config.num_train_timesteps // self.scheduler.num_inference_steps
        timestep = (timestep + step).clamp(max=self.scheduler.config.num_train_timesteps - 1)
        return super().prepare_latents(image, timestep, *args, **kwargs)
