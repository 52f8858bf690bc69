"""Diffusion features of the seen images for the encoding models.

For each stimulus and noise level s, one image-to-image run from its true z with its
true c (the same denoising as X_zc in ``reconstruct``, one sample) yields in a single
pass:

- ``zc``: the final latent z_c;
- ``zc-<step>``: the latent after the early, middle and late denoising steps;
- ``unet-<layer>-<step>``: activations of five U-Net layers (two down blocks, the
  bottleneck, two up blocks) during the U-Net call of those steps.

Steps are fractions of the run's int(steps x s) denoising steps (0 = first, 1 = last,
so late z_c is the final z_c). U-Net activations are taken through forward hooks;
under classifier-free guidance the U-Net sees [unconditional; conditional] and the
conditional half is kept, as it is the half that carries c. Each activation is
average-pooled to a fixed grid as it streams, so a batch's full activation is dropped
at once and only (images x channels x grid^2) values are ever held or written.
"""
from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch
import torch.nn.functional as F

from sdbrain.errors import ArgumentError
from sdbrain.sd import pipeline


def n_denoising_steps(steps: int, strength: float) -> int:
    """Denoising steps an image-to-image run makes (diffusers' get_timesteps for DDIM)."""
    return min(int(steps * strength), steps)


def step_indices(n_run: int, fractions: dict[str, float]) -> dict[str, int]:
    """{'early': 0, 'middle': ..., 'late': n_run - 1}: each named step's index in the run."""
    return {name: int(round(f * (n_run - 1))) for name, f in fractions.items()}


def pool(h: torch.Tensor, grid: int) -> torch.Tensor:
    """(n, C, H, W) -> (n, C * g * g) float32, averaged over a g x g grid (g = min(grid, H, W))."""
    g = min(grid, h.shape[-2], h.shape[-1])
    return F.adaptive_avg_pool2d(h.float(), g).flatten(1)


class Capture:
    """Forward hooks on the U-Net that keep the pooled activations of chosen layers at chosen steps.

    Use as a context manager around ``pipeline.generate``; ``start(n)`` before each batch of n
    images, ``on_step_end`` as the pipeline's step callback (it keeps the latents).
    """

    def __init__(self, unet, layers: dict[str, str], steps: dict[str, int], grid: int):
        self.unet, self.grid = unet, grid
        self.modules = {}
        for name, path in layers.items():
            try:
                self.modules[name] = unet.get_submodule(path)
            except AttributeError:
                raise ArgumentError("layers", f"this U-Net has no module '{path}' (for {name}); its blocks are "
                                    f"down_blocks.0-{len(unet.down_blocks) - 1}, mid_block, "
                                    f"up_blocks.0-{len(unet.up_blocks) - 1}") from None
        self.at: dict[int, list[str]] = {}
        for name, index in steps.items():
            self.at.setdefault(index, []).append(name)
        self.parts: dict[str, list[np.ndarray]] = {}
        self.handles = []

    def __enter__(self):
        """Register the hooks: a step counter on the U-Net and a keeper on each chosen layer."""
        self.handles = [self.unet.register_forward_pre_hook(self._count)]
        self.handles += [m.register_forward_hook(self._keeper(name)) for name, m in self.modules.items()]
        return self

    def __exit__(self, *exc):
        """Remove the hooks."""
        for handle in self.handles:
            handle.remove()

    def start(self, n: int) -> None:
        """Start a batch of ``n`` images: reset the step count; layers keep the last ``n`` rows of each output.

        Under classifier-free guidance the U-Net sees both halves in one batch; the last ``n`` rows are the
        images' conditioned half.
        """
        self.n, self.call = n, -1

    def _count(self, module, args):
        self.call += 1  # one U-Net call per denoising step (guidance halves are batched)

    def _keeper(self, layer: str):
        def keep(module, args, output):
            for step in self.at.get(self.call, []):
                h = output[0] if isinstance(output, tuple) else output
                self._add(f"unet-{layer}-{step}", pool(h[-self.n:], self.grid))
        return keep

    def on_step_end(self, pipe, i, t, tensors):
        """Keep the latents z_c after denoising step ``i`` where a chosen step falls (the pipeline's step callback)."""
        for step in self.at.get(i, []):
            self._add(f"zc-{step}", tensors["latents"].float().flatten(1))
        return {}

    def _add(self, name: str, values: torch.Tensor) -> None:
        self.parts.setdefault(name, []).append(values.cpu().numpy())

    def result(self) -> dict[str, np.ndarray]:
        """Return every kept feature, batches concatenated: {'zc-<step>' or 'unet-<layer>-<step>': (n, values)}."""
        return {name: np.concatenate(parts) for name, parts in self.parts.items()}


def extract(pipe, images: np.ndarray, c: np.ndarray, ids, strength: float, sampling: pipeline.Sampling,
            steps: dict[str, float] | None = None, layers: dict[str, str] | None = None,
            grid: int = 4) -> dict[str, np.ndarray]:
    """Run one image-to-image pass per stimulus and keep z_c, and z_c and U-Net activations at chosen steps.

    Parameters
    ----------
    pipe : StableDiffusionPipeline
        From ``pipeline.load_pipeline``.
    images, c, ids : arrays
        The stimuli (n, H, W, 3) uint8, their true c (n, values) and their 73k ids.
    strength : float
        The noise level s.
    sampling : pipeline.Sampling
        The reconstruction's settings (one sample per image is taken).
    steps : dict, optional
        Name -> fraction of the run's denoising steps (0 first, 1 last); only the final z_c without them.
    layers : dict, optional
        Name -> the U-Net module's path (diffusers names, e.g. 'mid_block').
    grid : int
        Each activation is averaged to a grid of this size as it streams.

    Returns
    -------
    dict
        {'zc': (n, values), 'zc-early': ..., 'unet-mid-early': ...}
    """
    sampling = replace(sampling, n_samples=1)
    if not steps:
        return {"zc": pipeline.generate(pipe, c, ids, sampling, init=images, strength=strength, latents=True,
                                        desc=f"z_c at s = {strength:g}")[:, 0]}
    indices = step_indices(n_denoising_steps(sampling.steps, strength), steps)
    with Capture(pipe.unet, layers or {}, indices, grid) as capture:
        zc = pipeline.generate(pipe, c, ids, sampling, init=images, strength=strength, latents=True, capture=capture,
                               desc=f"z_c and U-Net layers at s = {strength:g}")[:, 0]
    return {"zc": zc, **capture.result()}


def names(steps, layers) -> list[str]:
    """Return the feature names ``extract`` returns when it captures ``steps`` and ``layers``."""
    return ["zc"] + [f"zc-{s}" for s in steps] + [f"unet-{layer}-{s}" for layer in layers for s in steps]
