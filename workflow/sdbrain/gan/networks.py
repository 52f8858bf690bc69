"""VGG19 (the encoder) and the relu7 generator of the GAN init, loaded strictly from the published files.

The released code loads bdpy's PyTorch ports of Caffe's ``VGG_ILSVRC_19_layers`` and of the ``generator_relu7``
deep generator network (Dosovitskiy & Brox 2016), with the files beside them in the Kamitani lab's archives
(``VGG_ILSVRC_19_layers.zip``, ``bvlc_reference_caffenet_generator_ILSVRC2012_Training.zip``, fetched by
``sdbrain-weights``):

- encoder folder: ``VGG_ILSVRC_19_layers.pt`` (bdpy's ``VGG19``), ``ilsvrc_2012_mean.npy`` (ImageNet's mean image,
  Caffe's BGR order), ``estimated_cnn_feat_std_VGG_ILSVRC_19_layers_ImgSize_224x224_chwise_dof1.mat`` (each layer's
  channel-wise feature SD, which the decoded features are rescaled to);
- generator folder: ``generator_relu7.pt`` (bdpy's ``AlexNetGenerator``) and ``act_range/3x/fc7.txt`` (the upper
  bound of each of its 4,096 inputs).

Files are found by name anywhere in their folder, as the archives unpack. A file that does not fill the network
exactly (a missing key, an unexpected one, a tensor of another shape) is refused with one line.

The toy world ships both folders at toy size (``resources/toy_gan``): bdpy's classes have ImageNet's widths, so
a folder with ``architecture.json`` builds ``narrow_vgg19`` (VGG19's modules under the same names at other widths,
so bdpy's layer map and iCNN run on it unchanged) and ``linear_generator`` instead.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sdbrain.errors import InputError

# the layers the released reconstruction optimises on (it extracts all 19)
LAYERS = ("conv1_2", "conv2_2", "conv3_4", "conv4_4", "conv5_4", "fc6", "fc7", "fc8")
ENCODER_FILES = {"weights": "VGG_ILSVRC_19_layers.pt", "mean": "ilsvrc_2012_mean.npy",
                 "std": "estimated_cnn_feat_std_VGG_ILSVRC_19_layers_ImgSize_224x224_chwise_dof1.mat"}
GENERATOR_FILES = {"weights": "generator_relu7.pt", "bound": "act_range/3x/fc7.txt"}
ARCHITECTURE = "architecture.json"
VGG19_WIDTHS = (64, 128, 256, 512, 512)   # channels of VGG19's five blocks
VGG19_CONVS = (2, 2, 4, 4, 4)              # convolutions per block


@dataclass
class Encoder:
    """VGG19 with what its folder holds beside the weights."""

    net: nn.Module
    mean: np.ndarray            # (3,) channel means of the mean image, in its stored (Caffe BGR) order
    feature_std: dict           # layer -> channel-wise SD of ImageNet's features (the .mat's arrays)
    image_size: int             # input size (VGG19: 224)

    @property
    def layer_map(self) -> dict[str, str]:
        """Bdpy's names of the layers in the network ('conv1_2' -> 'features[2]')."""
        from bdpy.dl.torch.models import layer_map
        return layer_map("vgg19")


@dataclass
class Generator:
    """The relu7 generator with the bound of its input."""

    net: nn.Module
    upper_bound: np.ndarray     # (latent,) 3 x each input's activation range (the lower bound is 0: relu7)

    @property
    def latent_size(self) -> int:
        """The length of the generator's input."""
        return len(self.upper_bound)


def find(folder: str | Path, name: str) -> Path:
    """Return the one file ``name`` (a name, or a path ending such as 'act_range/3x/fc7.txt') under ``folder``."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(f"GAN model folder '{folder}': no such folder")
    found = sorted(p for p in folder.rglob(Path(name).name) if p.as_posix().endswith(name))
    if len(found) != 1:
        raise InputError(f"GAN model folder '{folder}': {'no' if not found else len(found)} file(s) {name} "
                         f"(expected one: {'the archive as published' if not found else ', '.join(map(str, found))})")
    return found[0]


def architecture(folder: str | Path) -> dict | None:
    """Return the toy architecture a folder declares (``architecture.json``), or None: bdpy's published networks."""
    found = sorted(Path(folder).rglob(ARCHITECTURE))
    return json.loads(found[0].read_text()) if found else None


def load_state(net: nn.Module, path: Path, what: str) -> nn.Module:
    """Load ``path`` into ``net`` strictly (every key, every shape) or refuse it with one line; eval mode."""
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- any unreadable file gets the same one-line answer
        raise InputError(f"{what} '{path}': not a readable torch state_dict ({type(error).__name__})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"{what} '{path}': not a state_dict of tensors")
    expected = net.state_dict()
    missing = [k for k in expected if k not in state]
    unexpected = [k for k in state if k not in expected]
    resized = [f"{k} {tuple(state[k].shape)} not {tuple(expected[k].shape)}" for k in state
               if k in expected and state[k].shape != expected[k].shape]
    problems = "; ".join(f"{what_} {', '.join(keys[:3])}{' ...' if len(keys) > 3 else ''}"
                         for keys, what_ in ((missing, "missing"), (unexpected, "unexpected"), (resized, "resized"))
                         if keys)
    if problems:
        raise InputError(f"{what} '{path}' does not fit the network: {problems}")
    net.load_state_dict(state, strict=True)
    return net.eval()


def build_encoder(arch: dict | None) -> nn.Module:
    """Bdpy's VGG19, or (a toy architecture) ``narrow_vgg19``."""
    if arch is None:
        from bdpy.dl.torch.models import VGG19
        return VGG19()
    return narrow_vgg19(arch["widths"], arch["fc"], arch["classes"], arch["pool"])


def build_generator(arch: dict | None) -> nn.Module:
    """Bdpy's relu7 generator (``AlexNetGenerator``), or (a toy architecture) ``narrow_generator``."""
    if arch is None:
        from bdpy.dl.torch.models import AlexNetGenerator
        return AlexNetGenerator()
    return linear_generator(arch["latent"], arch["image_size"])


def load_encoder(folder: str | Path, device="cpu") -> Encoder:
    """Load VGG19 from its folder, with the mean image's channel means and the feature SDs."""
    from scipy.io import loadmat
    arch = architecture(folder)
    net = load_state(build_encoder(arch), find(folder, ENCODER_FILES["weights"]), "VGG19 weights").to(device)
    mean_path = find(folder, ENCODER_FILES["mean"])
    mean = np.load(mean_path)
    if mean.ndim != 3 or mean.shape[0] != 3:
        raise InputError(f"mean image '{mean_path}': expected (3, height, width), found {mean.shape}")
    std_path = find(folder, ENCODER_FILES["std"])
    std = loadmat(std_path)
    missing = [layer for layer in LAYERS if layer not in std]
    if missing:
        raise InputError(f"feature SD file '{std_path}': no entry for layer(s) {', '.join(missing)}")
    return Encoder(net, mean.reshape(3, -1).mean(axis=1).astype(np.float32), {k: std[k] for k in LAYERS},
                   224 if arch is None else arch["image_size"])


def load_generator(folder: str | Path, device="cpu") -> Generator:
    """Load the relu7 generator from its folder, with the upper bound of its input."""
    arch = architecture(folder)
    net = load_state(build_generator(arch), find(folder, GENERATOR_FILES["weights"]), "generator weights").to(device)
    bound_path = find(folder, GENERATOR_FILES["bound"])
    bound = np.loadtxt(bound_path, dtype=np.float32).reshape(-1)
    latent = net.defc7.in_features
    if len(bound) != latent:
        raise InputError(f"generator input bound '{bound_path}': {len(bound)} values for a {latent}-d input")
    return Generator(net, bound)


# --- toy sizes in bdpy's layout ------------------------------------------------------------------------

class NarrowVGG19(nn.Module):
    """VGG19's modules in bdpy's layout (``features[i]``, ``avgpool``, ``classifier[j]``) at other widths.

    With the default arguments its state_dict has bdpy's ``VGG19`` keys and shapes (tested).
    """

    def __init__(self, widths=VGG19_WIDTHS, fc: int = 4096, classes: int = 1000, pool: int = 7):
        super().__init__()
        layers, channels = [], 3
        for width, convs in zip(widths, VGG19_CONVS):
            for _ in range(convs):
                layers += [nn.Conv2d(channels, width, kernel_size=3, padding=1), nn.ReLU(inplace=False)]
                channels = width
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        self.features = nn.Sequential(*layers)
        self.avgpool = nn.AdaptiveAvgPool2d((pool, pool))
        self.classifier = nn.Sequential(
            nn.Linear(channels * pool * pool, fc), nn.ReLU(inplace=False), nn.Dropout(p=0.5),
            nn.Linear(fc, fc), nn.ReLU(inplace=False), nn.Dropout(p=0.5), nn.Linear(fc, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(n, 3, size, size) images in Caffe's input space -> (n, classes)."""
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


def narrow_vgg19(widths=VGG19_WIDTHS, fc: int = 4096, classes: int = 1000, pool: int = 7) -> nn.Module:
    """Build the toy VGG19 (``NarrowVGG19``)."""
    return NarrowVGG19(widths, fc, classes, pool)


class LinearGenerator(nn.Module):
    """A toy generator under the relu7 generator's first layer name: one linear map from its input to the image.

    The toy world's (``sdbrain.toy.gan``): the principal components of toy scenes, each as a positive and a
    negative input, so that input 0 draws the mean scene and every input in the box draws a sum of scene parts.
    """

    def __init__(self, latent: int, image_size: int):
        super().__init__()
        self.image_size = image_size
        self.defc7 = nn.Linear(latent, 3 * image_size * image_size)

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        """(n, latent) -> (n, 3, size, size) images in the encoder's input space (Caffe BGR, mean subtracted)."""
        return self.defc7(z).view(-1, 3, self.image_size, self.image_size)


def linear_generator(latent: int, image_size: int) -> nn.Module:
    """Build the toy generator (``LinearGenerator``)."""
    return LinearGenerator(latent, image_size)
