"""Metric recipes: how each published evaluation turns images into numbers.

A recipe names, for every metric, the network and node, the input size, how an image
reaches that size, and how the score is formed; and its PixCorr and SSIM settings.
Reading each group's own evaluation code:

- ``takagi``: Takagi & Nishimoto's released code (``utils/img2feat_decoded.py``,
  ``utils/identification.py``): torchvision ``Resize(299)`` (PIL bilinear) and
  ``CenterCrop(299)`` for AlexNet (features.5, features.12, classifier.5) and
  Inception v3 (flatten); CLIP ViT-L/14 through ``CLIPProcessor`` (PIL bicubic to 224,
  centre crop) for the image embedding and hidden states 6 and 12. Two-way
  identification of each original: r with its own samples against r with every
  other image's samples, r averaged over the samples. No PixCorr or SSIM.
- ``mindeye``: MindEye2's ``final_evaluations``: every image first to 256 px, then
  per metric a tensor bilinear resize without antialiasing and without a crop:
  AlexNet features.4 / features.11 at 256, Inception avgpool at 342, CLIP image
  embedding at 224, EfficientNet-B1 avgpool at 255, SwAV-ResNet-50 avgpool at 224;
  PixCorr and SSIM at 425 (bilinear from the 256 px images).
- ``braindiffuser``: Brain-Diffuser's ``eval_extract_features.py`` and
  ``evaluate_reconstruction.py``: every network at 224 x 224 (PIL bilinear), the
  same nodes as MindEye; PixCorr and SSIM at 425 with the reconstruction resized by
  PIL bicubic and the original as it is (NSD's images are 425 px).

Both community recipes identify each reconstruction against every original (its own
original must correlate more than another one; a tie counts as a failure) and score
EfficientNet-B1 and SwAV as the mean correlation distance. Their SSIM is
scikit-image's ``structural_similarity(gaussian_weights=True, sigma=1.5,
use_sample_covariance=False, data_range=1.0)`` on ``rgb2gray`` (Rec. 709 weights).
"""
from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image

from sdbrain.errors import ArgumentError

if TYPE_CHECKING:  # torch is imported where images are prepared: the tables of a run need the recipes alone
    import torch

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
CLIP = ((0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711))


@dataclass(frozen=True)
class Feature:
    """One feature metric of a recipe: which network node, at what input size and resizing, scored how."""

    metric: str    # column name in the tables
    network: str   # networks.NETWORKS
    node: str      # torchvision feature-extractor node, or embeds / hidden6 / hidden12 for CLIP
    size: int      # input size in pixels (square)
    resize: str    # how images reach it: see ``prepare``
    score: str     # two_way_original (paper), two_way_reconstruction (community) or distance


@dataclass(frozen=True)
class LowLevel:
    """A recipe's PixCorr and SSIM settings: the comparison size, the resizing and PixCorr's flattening order."""

    size: int = 425
    resize: str = "tensor_bilinear"   # or pil_bicubic_reconstruction
    order: str = "chw"                # flattening order for PixCorr (a correlation does not depend on it)


@dataclass(frozen=True)
class Recipe:
    """A published evaluation: its feature metrics, PixCorr/SSIM settings, base size and the code it follows."""

    name: str
    features: tuple[Feature, ...]
    low_level: LowLevel | None = None
    base_size: int | None = None      # every image is first brought to this size (mindeye: 256)
    source: str = ""

    def feature(self, metric: str) -> Feature:
        """Return the recipe's feature of the metric (column) ``metric``."""
        return next(f for f in self.features if f.metric == metric)


_MINDEYE = (
    Feature("Alex2", "alexnet", "features.4", 256, "tensor_bilinear", "two_way_reconstruction"),
    Feature("Alex5", "alexnet", "features.11", 256, "tensor_bilinear", "two_way_reconstruction"),
    Feature("Incep", "inception_v3", "avgpool", 342, "tensor_bilinear", "two_way_reconstruction"),
    Feature("CLIP", "clip", "embeds", 224, "tensor_bilinear", "two_way_reconstruction"),
    Feature("Eff", "efficientnet_b1", "avgpool", 255, "tensor_bilinear", "distance"),
    Feature("SwAV", "swav_resnet50", "avgpool", 224, "tensor_bilinear", "distance"),
)

RECIPES = {
    "takagi": Recipe("takagi", (
        Feature("alexnet.features.5", "alexnet", "features.5", 299, "pil_bilinear_crop", "two_way_original"),
        Feature("alexnet.features.12", "alexnet", "features.12", 299, "pil_bilinear_crop", "two_way_original"),
        Feature("alexnet.classifier.5", "alexnet", "classifier.5", 299, "pil_bilinear_crop", "two_way_original"),
        Feature("inception_v3.flatten", "inception_v3", "flatten", 299, "pil_bilinear_crop", "two_way_original"),
        Feature("clip.embeds", "clip", "embeds", 224, "pil_bicubic_crop", "two_way_original"),
        Feature("clip.hidden6", "clip", "hidden6", 224, "pil_bicubic_crop", "two_way_original"),
        Feature("clip.hidden12", "clip", "hidden12", 224, "pil_bicubic_crop", "two_way_original"),
    ), source="yu-takagi/StableDiffusionReconstruction codes/utils/img2feat_decoded.py, identification.py"),
    "mindeye": Recipe("mindeye", _MINDEYE, LowLevel(425, "tensor_bilinear", "chw"), base_size=256,
                      source="MedARC-AI/MindEyeV2 src/final_evaluations.ipynb"),
    # Brain-Diffuser: MindEye's metrics and nodes, every network at 224 x 224 by PIL bilinear
    "braindiffuser": Recipe("braindiffuser", tuple(replace(f, size=224, resize="pil_bilinear_square") for f in _MINDEYE),
                            LowLevel(425, "pil_bicubic_reconstruction", "hwc"),
                            source="ozcelikfu/brain-diffuser scripts/eval_extract_features.py, "
                                   "evaluate_reconstruction.py"),
}


def selected(names) -> list[Recipe]:
    """Return the recipes named, in order (``RECIPES``' keys)."""
    unknown = [n for n in names if n not in RECIPES]
    if unknown:
        raise ArgumentError("recipes", f"unknown recipe(s) {unknown}; expected {sorted(RECIPES)}")
    return [RECIPES[n] for n in names]


# --- preprocessing ------------------------------------------------------------------

def base(images: np.ndarray, recipe: Recipe) -> np.ndarray:
    """uint8 (n, H, W, 3) -> float32 (n, 3, H', W') in [0, 1], at the recipe's base size if it has one."""
    import torch
    x = torch.from_numpy(np.ascontiguousarray(images)).permute(0, 3, 1, 2).float() / 255
    if recipe.base_size and x.shape[-1] != recipe.base_size:
        x = _interpolate(x, recipe.base_size)
    return x.numpy()


def _interpolate(x: torch.Tensor, size: int) -> torch.Tensor:
    """Resize a float tensor as torchvision's ``Resize((size, size))`` does.

    Bilinear, no antialiasing (its tensor default then).
    """
    import torch
    return torch.nn.functional.interpolate(x, size=(size, size), mode="bilinear", align_corners=False, antialias=False)


def _pil(image: np.ndarray) -> Image.Image:
    return Image.fromarray(image if image.dtype == np.uint8 else (image.transpose(1, 2, 0) * 255).round().astype(np.uint8))


def _shorter_side_crop(pil: Image.Image, size: int, resample) -> np.ndarray:
    """Apply torchvision's Resize(size) (shorter side to ``size``) then CenterCrop(size) to a PIL image."""
    w, h = pil.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(size * long / short)
    pil = pil.resize((size, new_long) if w <= h else (new_long, size), resample)
    left, top = int(round((pil.width - size) / 2.0)), int(round((pil.height - size) / 2.0))
    return np.asarray(pil.crop((left, top, left + size, top + size)), dtype=np.float32) / 255


def prepare(images: np.ndarray, feature: Feature, recipe: Recipe) -> torch.Tensor:
    """Images (uint8 (n, H, W, 3), or the recipe's float base images) -> normalised network input.

    pil_bilinear_crop: torchvision Resize + CenterCrop on PIL images (bilinear);
    pil_bicubic_crop: the same with bicubic (CLIPProcessor); pil_bilinear_square: PIL
    bilinear straight to size x size; tensor_bilinear: bilinear on float tensors.
    """
    import torch
    mean, std = CLIP if feature.network == "clip" else IMAGENET
    if feature.resize == "tensor_bilinear":
        x = torch.from_numpy(base(images, recipe) if images.dtype == np.uint8 else images)
        x = x if x.shape[-1] == feature.size else _interpolate(x, feature.size)
    else:
        out = []
        for image in images:
            pil = _pil(image)
            if feature.resize == "pil_bilinear_square":
                out.append(np.asarray(pil.resize((feature.size, feature.size), Image.BILINEAR), dtype=np.float32) / 255)
            else:
                resample = Image.BILINEAR if feature.resize == "pil_bilinear_crop" else Image.BICUBIC
                out.append(_shorter_side_crop(pil, feature.size, resample))
        x = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


# --- PixCorr and SSIM -------------------------------------------------------------------

def low_level_images(images: np.ndarray, recipe: Recipe, reconstruction: bool) -> np.ndarray:
    """float64 (n, size, size, 3) in [0, 1]: images as the recipe compares them pixel by pixel."""
    low = recipe.low_level
    if low.resize == "tensor_bilinear":
        import torch
        x = torch.from_numpy(base(images, recipe))
        return _interpolate(x, low.size).permute(0, 2, 3, 1).double().numpy()
    # Brain-Diffuser: the reconstruction by PIL's bicubic; the original as it is when it has the size already
    out = []
    for image in images:
        pil = Image.fromarray(image)
        if reconstruction or pil.size != (low.size, low.size):
            pil = pil.resize((low.size, low.size), Image.BICUBIC)
        out.append(np.asarray(pil, dtype=np.float64) / 255)
    return np.stack(out)


def pixcorr(original: np.ndarray, reconstruction: np.ndarray, order: str = "chw") -> float:
    """Pearson r of all pixel values of two (H, W, 3) images."""
    if order == "chw":
        original, reconstruction = original.transpose(2, 0, 1), reconstruction.transpose(2, 0, 1)
    return float(np.corrcoef(original.ravel(), reconstruction.ravel())[0, 1])


def ssim(original: np.ndarray, reconstruction: np.ndarray) -> float:
    """Compute the community's SSIM: scikit-image on Rec. 709 grey images in [0, 1]."""
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity
    return float(structural_similarity(rgb2gray(reconstruction), rgb2gray(original), gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False, data_range=1.0))
