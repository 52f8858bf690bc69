"""VGG19 features of images with the released preprocessing: the targets the GAN init decodes.

The released code (``make_vgg19bdpy.py``) resizes each image to 224 px (PIL's bilinear filter), scales it to
0-255 and subtracts the mean image's three channel means in their stored order from R, G and B. The means are
stored in Caffe's BGR order (ImageNet's blue mean from red), and Caffe's VGG19 was trained on BGR input: the
image reaches the network in RGB with shifted means. ``channel_order`` keeps that ('released', the NSD recipe) or
corrects it ('caffe': BGR input, each mean from its own channel); the image the iCNN makes is read back in the
same order (``icnn.to_image``), so either order gives an RGB image.

The features are the layers' outputs before their ReLU (bdpy's layer map names the convolution and linear
modules), flattened per image.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image

from sdbrain.errors import ArgumentError
from sdbrain.gan.networks import LAYERS, Encoder

CHANNEL_ORDERS = ("released", "caffe")


def check_order(channel_order: str) -> str:
    """Return ``channel_order`` if it is one of CHANNEL_ORDERS."""
    if channel_order not in CHANNEL_ORDERS:
        raise ArgumentError("channel_order", f"'{channel_order}' is not one of {', '.join(CHANNEL_ORDERS)}")
    return channel_order


def preprocess(images: np.ndarray, mean: np.ndarray, size: int, channel_order: str = "released") -> torch.Tensor:
    """(n, H, W, 3) uint8 RGB images -> (n, 3, size, size) float32 encoder input (``mean``: the stored channel means)."""
    check_order(channel_order)
    x = np.stack([np.asarray(Image.fromarray(im).resize((size, size), resample=Image.BILINEAR)) for im in images])
    x = x.astype(np.float32).transpose(0, 3, 1, 2)          # 0-255, channels first
    if channel_order == "caffe":
        x = x[:, ::-1]                                       # RGB -> BGR, the order of the means
    return torch.from_numpy(np.ascontiguousarray(x - np.asarray(mean, np.float32).reshape(1, 3, 1, 1)))


def extract(encoder: Encoder, x: torch.Tensor, layers=LAYERS) -> dict[str, torch.Tensor]:
    """Return the pre-activation outputs of ``layers`` for encoder input ``x`` (bdpy's feature extractor), with gradients."""
    from bdpy.dl.torch import FeatureExtractor
    extractor = FeatureExtractor(encoder.net, list(layers), encoder.layer_map, device=str(x.device), detach=False)
    try:
        return extractor.run(x)
    finally:
        clear_hooks(encoder.net)


def clear_hooks(net: torch.nn.Module) -> None:
    """Remove the forward hooks bdpy's extractors leave: its ``__del__`` stops after the first one it removes.

    (It deletes from the dict it iterates over; the error is swallowed and the other hooks stay, so the next
    extractor on the same network would read every layer twice.)
    """
    for module in net.modules():
        module._forward_hooks.clear()


def features(encoder: Encoder, images: np.ndarray, channel_order: str = "released",
             layers=LAYERS) -> dict[str, np.ndarray]:
    """Return each layer's features of ``images``: layer -> (n, values) float32."""
    device = next(encoder.net.parameters()).device
    with torch.no_grad():
        x = preprocess(images, encoder.mean, encoder.image_size, channel_order)
        out = extract(encoder, x.to(device), layers)
    return {layer: out[layer].reshape(len(images), -1).float().cpu().numpy() for layer in layers}


def shapes(encoder: Encoder, layers=LAYERS) -> dict[str, tuple[int, ...]]:
    """Return each layer's feature shape for one image (conv: (channels, h, w); fc: (units,))."""
    device = next(encoder.net.parameters()).device
    x = torch.zeros(1, 3, encoder.image_size, encoder.image_size, device=device)
    with torch.no_grad():
        out = extract(encoder, x, layers)
    return {layer: tuple(out[layer].shape[1:]) for layer in layers}
