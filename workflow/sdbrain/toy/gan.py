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


def posterior(fc: int) -> torch.nn.Module:
    """Build the VAE encoder that trains the toy generator (dropped afterwards): 64 px -> mean and log-variance."""
    act = lambda: torch.nn.LeakyReLU(0.2)  # noqa: E731
    return torch.nn.Sequential(
        torch.nn.Conv2d(3, 32, 4, 2, 1), act(), torch.nn.Conv2d(32, 64, 4, 2, 1), act(),
        torch.nn.Conv2d(64, 128, 4, 2, 1), act(), torch.nn.Conv2d(128, 128, 4, 2, 1), act(),
        torch.nn.Flatten(), torch.nn.Linear(128 * 4 * 4, 2 * fc))


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
    """Build the toy encoder, train the toy generator, write both folders under ``out_dir``; return the record.

    The generator is the decoder of a VAE on toy scenes whose prior is N(prior_mean, 1) per input unit: every
    input in the box [0, prior_mean + 3] draws a scene-like image, and nearby inputs draw nearby images, which is
    what the iCNN's search from a random start needs (the published generator got it from adversarial training).
    """
    out_dir = Path(out_dir)
    torch.set_num_threads(params.get("threads", 2))
    size, fc, m = params["image_size"], params["fc"], params["prior_mean"]
    rng = np.random.default_rng([params["seed"], 21])
    start = time.time()
    reference = world.render_all(world.sample_scenes(params["n_reference"], rng), size)
    mean_image = reference.astype(np.float32).mean(0)[:, :, ::-1].transpose(2, 0, 1)  # (3, H, W), BGR as Caffe's
    net = random_encoder(params)
    encoder = networks.Encoder(net, mean_image.reshape(3, -1).mean(1), {}, size)
    torch.manual_seed(params["seed"])
    generator, q = networks.narrow_generator(**generator_arch(params)), posterior(fc)
    sampler = torch.Generator().manual_seed(params["seed"])
    optimiser = torch.optim.AdamW([*generator.parameters(), *q.parameters()], lr=params["lr"], weight_decay=0.0)
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimiser, max_lr=params["lr"], total_steps=params["steps"],
                                                   pct_start=0.1)
    for step in range(1, params["steps"] + 1):
        x = bgr(world.render_all(world.sample_scenes(params["batch"], rng), size), encoder.mean)
        mu, log_var = q(x / 255).chunk(2, dim=1)
        log_var = log_var.clamp(-8, 4)
        code = m + mu + (0.5 * log_var).exp() * torch.randn(mu.shape, generator=sampler)
        pixels = ((generator(code) - x) / 255).pow(2).mean()
        kl = 0.5 * (mu.pow(2) + log_var.exp() - 1 - log_var).sum(1).mean()
        warm = min(1.0, step / (params["steps"] / 2))   # the KL term phased in: a VAE whose code is used at all
        loss = pixels + warm * params["kl_weight"] * kl
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        schedule.step()
        if step % 100 == 0 or step == params["steps"]:
            log(f"generator step {step}/{params['steps']}: pixel MSE {pixels.item():.5f}, KL {kl.item():.1f}")
    generator.eval()
    held_out = world.render_all(world.sample_scenes(params["n_eval"], np.random.default_rng([params["seed"], 22])), size)
    with torch.no_grad():
        x = bgr(held_out, encoder.mean)
        made = generator(m + q(x / 255).chunk(2, dim=1)[0])
    r = np.corrcoef(made.flatten(1).numpy(), x.flatten(1).numpy())[:len(x), len(x):].diagonal()
    record = {"seed": params["seed"], "minutes": (time.time() - start) / 60, "final_pixel_mse": float(pixels.item()),
              "final_kl": float(kl.item()), "held_out_pixel_r": float(r.mean()), "params": params}
    # trained with inputs of order 1 (stable); shipped reading its input divided by latent_scale (the same
    # images), its bound as many times larger: the iCNN's released steps (learning rate 2 on normalised
    # gradients) are sized for inputs in the tens, not in units
    k = params["latent_scale"]
    generator.defc7.weight.data /= k
    bound = np.full(fc, k * (m + 3), dtype=np.float32)
    write(out_dir, net, generator, mean_image, feature_std(encoder, reference), bound, params)
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
