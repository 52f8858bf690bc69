"""The toy GAN init's networks, in the published folders' layout: a VGG19-shaped encoder and a relu7 generator.

The encoder is VGG19's layer structure at toy widths with seeded random weights (as the toy evaluation networks
are): its features of the toy scenes are what the toy brains' decoders predict. The generator is the image prior
the iCNN searches: bdpy's relu7 generator was trained to invert ImageNet images' relu7 features; this one learns
to invert the toy encoder's relu7 (fc7 after its ReLU) of toy scenes, with a pixel loss, and outputs, as the
published one does, Caffe's encoder input (BGR, the mean image's channel means subtracted, 0-255 scale).

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
    """Return the toy generator's architecture (``networks.narrow_generator``'s arguments)."""
    return {"latent": params["fc"], "fc": params["generator_fc"], "channels": params["generator_channels"]}


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
    # its input is 0-255: scaled so that relu7, the generator's input, is of order 1 as AlexNet's is
    # (the network is positively homogeneous, so this scales every layer's features alike)
    net.features[0].weight.data /= params["input_scale"]
    return net.eval()


def relu7(encoder: networks.Encoder, x: torch.Tensor) -> torch.Tensor:
    """Return the encoder's fc7 after its ReLU: the generator's input."""
    return torch.relu(vgg19.extract(encoder, x, ["fc7"])["fc7"])


def augment(code: torch.Tensor, noise: float, scale, bound: torch.Tensor, rng: torch.Generator) -> torch.Tensor:
    """Scale each code by a factor from ``scale`` (low, high), add noise of SD up to ``noise`` x the codes', clip.

    The result lies within [0, bound].
    The iCNN starts near 0 (N(0, 1) against codes in the hundreds), decays its input every step, and searches the
    whole input box: the generator must draw a scene from codes near, not only at, a scene's relu7, and along the
    ray from 0 to it (the published one was trained adversarially for the first).
    """
    factor = scale[0] + (scale[1] - scale[0]) * torch.rand(len(code), 1, generator=rng)
    sd = noise * code.std() * torch.rand(len(code), 1, generator=rng)
    return torch.minimum(torch.clamp(factor * code + sd * torch.randn(code.shape, generator=rng), min=0), bound)


def feature_std(encoder: networks.Encoder, images: np.ndarray) -> dict[str, np.ndarray]:
    """Return each layer's channel-wise feature SD (ddof 1, over positions; fc layers over units), averaged over images."""
    with torch.no_grad():
        out = vgg19.extract(encoder, bgr(images, encoder.mean), networks.LAYERS)
    std = {}
    for layer, f in out.items():
        f = f.double()
        std[layer] = (f.flatten(2).std(dim=2) if f.ndim == 4 else f.std(dim=1, keepdim=True)).mean(0).numpy()[None]
    return std


def train(out_dir: str | Path, params: dict, log=print) -> dict:
    """Build the toy encoder, train the toy generator, write both folders under ``out_dir``; return the record."""
    out_dir = Path(out_dir)
    torch.set_num_threads(params.get("threads", 2))
    size = params["image_size"]
    rng = np.random.default_rng([params["seed"], 21])
    start = time.time()
    reference = world.render_all(world.sample_scenes(params["n_reference"], rng), size)
    mean_image = reference.astype(np.float32).mean(0)[:, :, ::-1].transpose(2, 0, 1)  # (3, H, W), BGR as Caffe's
    net = random_encoder(params)
    encoder = networks.Encoder(net, mean_image.reshape(3, -1).mean(1), {}, size)
    with torch.no_grad():
        bound = 3 * relu7(encoder, bgr(reference, encoder.mean)).max(0).values.numpy()  # 3 x each unit's range
    torch.manual_seed(params["seed"])
    generator = networks.narrow_generator(**generator_arch(params))
    generator_rng = torch.Generator().manual_seed(params["seed"])
    bound = torch.from_numpy(bound)
    optimiser = torch.optim.AdamW(generator.parameters(), lr=params["lr"], weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=params["lr"], total_steps=params["steps"],
                                                   pct_start=0.1)
    for step in range(1, params["steps"] + 1):
        x = bgr(world.render_all(world.sample_scenes(params["batch"], rng), size), encoder.mean)
        with torch.no_grad():
            code = augment(relu7(encoder, x), params["code_noise"], params["code_scale"], bound, generator_rng)
        loss = ((generator(code) - x) / 255).pow(2).mean()
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == params["steps"]:
            log(f"generator step {step}/{params['steps']}: pixel MSE {loss.item():.5f}")
    generator.eval()
    held_out = world.render_all(world.sample_scenes(params["n_eval"], np.random.default_rng([params["seed"], 22])), size)
    with torch.no_grad():
        x = bgr(held_out, encoder.mean)
        made = generator(relu7(encoder, x))
    r = np.corrcoef(made.flatten(1).numpy(), x.flatten(1).numpy())[:len(x), len(x):].diagonal()
    record = {"seed": params["seed"], "minutes": (time.time() - start) / 60, "final_loss": float(loss.item()),
              "held_out_pixel_r": float(r.mean()), "params": params}
    # trained where relu7 is of order 1 (stable); shipped with relu7 latent_scale times larger, its generator
    # reading its input divided by as much (the same images): the iCNN's released step sizes (learning rate 2,
    # normalised gradients) are sized for a relu7 in the tens, not in units
    k = params["latent_scale"]
    net.features[0].weight.data *= k
    generator.defc7.weight.data /= k
    write(out_dir, net, generator, mean_image, feature_std(encoder, reference), k * bound.numpy(), params)
    (out_dir / "training.json").write_text(json.dumps(record, indent=1) + "\n")
    log(f"toy GAN: generator's held-out pixel r {record['held_out_pixel_r']:.3f} ({record['minutes']:.1f} min)")
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
