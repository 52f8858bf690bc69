"""iCNN reconstruction: the generator's input optimised so that VGG19 sees the decoded features in its image.

The released code (``recon_icnn_image_vgg19_dgn_relu7gen_gd.py``, after Shen et al. 2019) runs bdpy's
``reconstruct`` with:

- each layer's decoded features renormalised, ``(f - mean(f)) / mean(sd(f)) * mean(sd_ImageNet) + mean(f)``
  (SDs channel-wise, ddof 1; bdpy's ``normalize_feature``), since ridge predictions shrink toward the mean;
- layer weights ``1 / ||f||^2``, normalised to sum 1, so that every layer counts alike in the summed squared error;
- 200 iterations of SGD on the generator's 4,096-d input, learning rate falling linearly from 2 to 1e-10,
  momentum 0.9, decay 0.01 of the input per iteration, gradients divided by their mean absolute value, the input
  clipped to [0, the generator's bound]; the generator's 256 px image cropped to VGG19's 224 in the centre;
- the start drawn from N(0, 1), unseeded. Here it is drawn from a generator seeded by ``seed`` and the image's
  73k id (a departure, for reproducibility: the same config gives the same images).

``to_image`` turns the result into the picture the released code saves: the mean added back, channels reversed
(Caffe's BGR to RGB), 4 % of extreme values clipped, scaled to 0-255, and saved with the channels reversed once
more, which under the released channel order (``vgg19``) gives the RGB picture again.
"""
from __future__ import annotations

import tempfile
from dataclasses import dataclass

import numpy as np
import torch

from sdbrain.gan import vgg19
from sdbrain.gan.networks import LAYERS, Encoder, Generator


@dataclass(frozen=True)
class Settings:
    """The released reconstruction's settings (``config: gan.icnn``)."""

    n_iter: int = 200
    lr: tuple[float, float] = (2.0, 1e-10)
    momentum: tuple[float, float] = (0.9, 0.9)
    decay: tuple[float, float] = (0.01, 0.01)
    clip_percent: float = 4.0       # extreme values clipped before the 0-255 scaling (both tails together)
    channel_order: str = "released"

    @classmethod
    def pick(cls, values: dict) -> Settings:
        """Take the settings that ``values`` names; defaults for the rest."""
        kept = {k: (tuple(v) if isinstance(v, list) else v) for k, v in values.items() if k in cls.__dataclass_fields__}
        return cls(**kept)


def renormalise(decoded: np.ndarray, shape: tuple[int, ...], reference_std: np.ndarray) -> np.ndarray:
    """One layer's decoded features (flat) as the released code rescales them, in the layer's ``shape``."""
    from bdpy.feature import normalize_feature
    f = np.asarray(decoded, dtype=np.float64).reshape(shape)
    return normalize_feature(f, channel_wise_mean=False, channel_wise_std=False, channel_axis=0,
                             shift="self", scale=np.mean(reference_std), std_ddof=1).astype(np.float32)


def layer_weights(targets: dict[str, np.ndarray]) -> dict[str, np.float32]:
    """``1 / ||f||^2`` per layer, normalised to sum 1."""
    norms = np.array([np.linalg.norm(f) for f in targets.values()], dtype=np.float32)
    weights = 1.0 / norms ** 2
    return dict(zip(targets, weights / weights.sum()))


def targets(encoder: Encoder, decoded: dict[str, np.ndarray], layers=LAYERS) -> dict[str, np.ndarray]:
    """Return the decoded features of one image as the loss compares them: renormalised, (1, *layer shape) each."""
    shapes = vgg19.shapes(encoder, layers)
    return {layer: renormalise(decoded[layer], shapes[layer], encoder.feature_std[layer])[None] for layer in layers}


def loss(encoder: Encoder, image: torch.Tensor, targets_: dict[str, np.ndarray], weights: dict) -> torch.Tensor:
    """Return the iCNN loss of an encoder input: sum over layers of weight x summed squared error."""
    out = vgg19.extract(encoder, image, list(targets_))
    return sum(float(weights[k]) * ((out[k] - torch.from_numpy(t).to(out[k].device)) ** 2).sum()
               for k, t in targets_.items())


def initial_latent(seed: int, nsd_id: int, size: int) -> np.ndarray:
    """Draw the optimisation's start: N(0, 1) from a generator seeded by ``seed`` and the image's 73k id."""
    return np.random.default_rng([int(seed), int(nsd_id)]).standard_normal(size).astype(np.float32)


def reconstruct(encoder: Encoder, generator: Generator, decoded: dict[str, np.ndarray], nsd_id: int, seed: int,
                settings: Settings = Settings()) -> tuple[np.ndarray, np.ndarray]:
    """One image from its decoded features (layer -> flat values): (H, W, 3) uint8 RGB, and the loss per iteration."""
    from bdpy.recon.torch.icnn import reconstruct as icnn
    goal = targets(encoder, decoded, list(decoded))
    device = str(next(encoder.net.parameters()).device)
    size = encoder.image_size
    with tempfile.TemporaryDirectory() as scratch:  # bdpy makes its output folder even when it saves nothing
        try:
            x, history = icnn(goal, encoder.net, layer_mapping=encoder.layer_map, generator=generator.net,
                              n_iter=settings.n_iter, loss_func=torch.nn.MSELoss(reduction="sum"),
                              optimizer=torch.optim.SGD, lr=settings.lr, momentum=settings.momentum,
                              decay=settings.decay, layer_weights=layer_weights(goal), image_size=(size, size, 3),
                              crop_generator_output=True,
                              initial_feature=initial_latent(seed, nsd_id, generator.latent_size),
                              feature_upper_bound=generator.upper_bound, feature_lower_bound=0.0,
                              return_loss=True, output_dir=scratch, save_snapshot=False,
                              disp_interval=settings.n_iter + 1, device=device)
        finally:
            vgg19.clear_hooks(encoder.net)
    return to_image(x, encoder.mean, settings), history


def to_image(x: np.ndarray, mean: np.ndarray, settings: Settings = Settings()) -> np.ndarray:
    """Turn the generator's (3, H, W) output (the encoder's input space) into the (H, W, 3) uint8 RGB picture."""
    from bdpy.recon.utils import clip_extreme, normalize_image
    image = (np.asarray(x, dtype=np.float32) + mean.reshape(3, 1, 1))[::-1].transpose(1, 2, 0)  # Caffe's deprocess
    image = normalize_image(clip_extreme(image, pct=settings.clip_percent))
    # the released file is saved with the channels reversed once more: under the released order the image holds
    # RGB content in BGR's places, so this gives RGB; under Caffe's order the deprocessed image already is RGB
    return np.ascontiguousarray(image[:, :, ::-1] if settings.channel_order == "released" else image)
