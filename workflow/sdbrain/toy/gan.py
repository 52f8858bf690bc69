"""The toy GAN init's networks, in the published folders' layout: a VGG19-shaped encoder and a generator.

The encoder is VGG19's layer structure at toy widths with seeded random weights (as the toy evaluation networks
are): its features of the toy scenes are what the toy brains' decoders predict.

The generator is the image prior the iCNN searches. The published one is a deep network trained adversarially to
draw ImageNet images from relu7 codes, so that every input in its box draws a natural-looking image. Deep toy
generators trained here (to invert the toy encoder's relu7, or as a VAE's decoder) drew blurred scenes from
scenes' codes but not from the rest of the box, and the iCNN, which starts from a random input, ended in a few
blobs whatever the scene. The toy generator is therefore linear: the principal components of toy scenes (in the
encoder's input space: BGR, the mean image's channel means subtracted, 0-255), each as a positive and a negative
input (a relu code), so that input 0 draws the mean scene, every input in the box [0, bound] draws a sum of scene
parts, and the iCNN's decay pulls toward the mean scene.

``write`` saves both folders with the published files' names (``sdbrain.gan.networks``) and an
``architecture.json`` with the toy sizes, so the workflow loads them as it loads the published ones.
"""
from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch
from scipy.io import savemat

from sdbrain.gan import networks, vgg19
from sdbrain.toy import world


def encoder_arch(params: dict) -> dict:
    """Return the toy encoder's architecture (``networks.narrow_vgg19``'s arguments and its input size)."""
    return {"widths": params["widths"], "fc": params["fc"], "classes": params["classes"], "pool": params["pool"],
            "image_size": params["image_size"]}


def generator_arch(params: dict) -> dict:
    """Return the toy generator's architecture (``networks.linear_generator``'s arguments)."""
    return {"latent": 2 * params["components"], "image_size": params["image_size"]}


def bgr(images: np.ndarray, mean: np.ndarray) -> torch.Tensor:
    """(n, H, W, 3) uint8 RGB -> (n, 3, H, W) Caffe input: BGR, ``mean`` (BGR) subtracted."""
    return vgg19.preprocess(images, mean, images.shape[1], "caffe")


def random_encoder(params: dict) -> torch.nn.Module:
    """Build the toy VGG19 with seeded random weights, He-initialised so that every layer's features vary with the image.

    (torch's default initialisation shrinks the activations at every layer: after 16 convolutions the features
    of different scenes differ by a millionth of their size.)
    """
    torch.manual_seed(params["seed"])
    net = networks.narrow_vgg19(params["widths"], params["fc"], params["classes"], params["pool"])
    for module in net.modules():
        if isinstance(module, (torch.nn.Conv2d, torch.nn.Linear)):
            torch.nn.init.kaiming_normal_(module.weight, nonlinearity="relu")
            torch.nn.init.zeros_(module.bias)
    # its input is 0-255: scaled down so that its features are of order 1 to 100 (the network is positively
    # homogeneous, so this scales every layer's features alike)
    net.features[0].weight.data /= params["input_scale"]
    return net.eval()


def feature_std(encoder: networks.Encoder, images: np.ndarray) -> dict[str, np.ndarray]:
    """Return each layer's channel-wise feature SD (ddof 1, over positions; fc layers over units), averaged over images."""
    with torch.no_grad():
        out = vgg19.extract(encoder, bgr(images, encoder.mean), networks.LAYERS)
    std = {}
    for layer, f in out.items():
        f = f.double()
        std[layer] = (f.flatten(2).std(dim=2) if f.ndim == 4 else f.std(dim=1, keepdim=True)).mean(0).numpy()[None]
    return std


def principal_generator(x: torch.Tensor, params: dict) -> tuple[torch.nn.Module, np.ndarray, float]:
    """Fit the linear generator to scenes ``x`` (n, 3, H, W): (generator, its input bound, variance explained).

    Input unit i (and i + components, its negative) moves the image along component i by latent_scale input units
    per SD of the scenes along it; the bound, ``sd_range`` SDs each way, is as many times larger. (The iCNN's
    released steps, learning rate 2 on normalised gradients, are sized for inputs in the tens.)
    """
    k, scale = params["components"], params["latent_scale"]
    flat = x.flatten(1).double()
    mean = flat.mean(0)
    _, s, v = torch.linalg.svd(flat - mean, full_matrices=False)
    sd = s[:k] / np.sqrt(len(flat) - 1)
    basis = v[:k].T * sd / scale                                    # (pixels, components)
    generator = networks.linear_generator(**generator_arch(params))
    generator.defc7.weight.data = torch.cat([basis, -basis], dim=1).float()
    generator.defc7.bias.data = mean.float()
    bound = np.full(2 * k, params["sd_range"] * scale, dtype=np.float32)
    return generator.eval(), bound, float((s[:k] ** 2).sum() / (s ** 2).sum())


def train(out_dir: str | Path, params: dict, log=print) -> dict:
    """Build the toy encoder, fit the toy generator, write both folders under ``out_dir``; return the record."""
    out_dir = Path(out_dir)
    torch.set_num_threads(params.get("threads", 2))
    size = params["image_size"]
    start = time.time()
    reference = world.render_all(world.sample_scenes(params["n_reference"], np.random.default_rng([params["seed"], 21])),
                                 size)
    mean_image = reference.astype(np.float32).mean(0)[:, :, ::-1].transpose(2, 0, 1)  # (3, H, W), BGR as Caffe's
    net = random_encoder(params)
    encoder = networks.Encoder(net, mean_image.reshape(3, -1).mean(1), {}, size)
    generator, bound, explained = principal_generator(bgr(reference, encoder.mean), params)
    held_out = world.render_all(world.sample_scenes(params["n_eval"], np.random.default_rng([params["seed"], 22])), size)
    x = bgr(held_out, encoder.mean).flatten(1).double()
    basis = generator.defc7.weight.detach().double()[:, :params["components"]]
    # the held-out scenes' best images in the generator's span (least squares in its components)
    bias = generator.defc7.bias.detach().double()
    coefficients = torch.linalg.lstsq(basis, (x - bias).T).solution
    made = (basis @ coefficients).T + bias
    r = np.corrcoef(made.numpy(), x.numpy())[:len(x), len(x):].diagonal()
    record = {"seed": params["seed"], "minutes": (time.time() - start) / 60, "variance_explained": explained,
              "held_out_pixel_r": float(r.mean()), "params": params}
    write(out_dir, net, generator, mean_image, feature_std(encoder, reference[:params["n_eval"]]), bound, params)
    (out_dir / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    log(f"toy GAN: {params['components']} components explain {explained:.3f} of the scenes' variance; held-out "
        f"scenes in their span: pixel r {record['held_out_pixel_r']:.3f}")
    return record


def write(out_dir: Path, encoder, generator, mean_image, std, bound, params) -> None:
    """Save the two folders as the published archives hold them, plus ``architecture.json``."""
    vgg_dir, gen_dir = out_dir / "VGG_ILSVRC_19_layers", out_dir / "generator_relu7"
    (gen_dir / "act_range" / "3x").mkdir(parents=True, exist_ok=True)
    vgg_dir.mkdir(parents=True, exist_ok=True)
    torch.save(encoder.state_dict(), vgg_dir / networks.ENCODER_FILES["weights"])
    np.save(vgg_dir / networks.ENCODER_FILES["mean"], mean_image.astype(np.float32))
    savemat(vgg_dir / networks.ENCODER_FILES["std"], std)
    (vgg_dir / networks.ARCHITECTURE).write_text(json.dumps(encoder_arch(params)) + "\n")
    torch.save(generator.state_dict(), gen_dir / networks.GENERATOR_FILES["weights"])
    np.savetxt(gen_dir / networks.GENERATOR_FILES["bound"], bound[None], fmt="%.6g", delimiter=" ")
    (gen_dir / networks.ARCHITECTURE).write_text(json.dumps(generator_arch(params)) + "\n")
