"""Training the toy latent diffusion model on the toy generator's images and captions.

The model has Stable Diffusion's structure (AutoencoderKL, CLIP text encoder and
tokenizer, UNet2DConditionModel with cross-attention, DDIM scheduler) and is saved in
diffusers format, so the workflow loads it exactly as it loads SD v1.4. Training runs
in three stages on a CPU: an attribute scorer (to measure the model, not part of
it), the VAE, then the text encoder and U-Net together with the diffusion objective.

Two choices make the captions' attributes learnable at this size. The noise
schedule is rescaled to zero terminal SNR with v-prediction: with SD's own schedule
enough of the image survives at the last timestep that a small model reads the
background from the noise rather than from the caption. And the caption is dropped
for 10 % of the images, for classifier-free guidance.
"""
from __future__ import annotations

import copy
import ctypes
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
from torch import nn

from sdbrain.toy import score, world
from sdbrain.toy.model import build_text_encoder, build_tokenizer, build_vae, save_pipeline


def fast_malloc() -> None:
    """Keep glibc from returning freed memory to the OS after every step (up to 4x slower steps here)."""
    try:
        libc = ctypes.CDLL("libc.so.6")
    except OSError:
        return
    libc.mallopt(-3, 1 << 30)  # M_MMAP_THRESHOLD
    libc.mallopt(-1, 1 << 30)  # M_TRIM_THRESHOLD


def vocabulary(seed: int = 0, n: int = 4000) -> set[str]:
    """Every word the toy captions use (all shapes, colours, sizes, places and templates)."""
    scenes = world.sample_scenes(n, np.random.default_rng(seed))
    return {w for s in scenes for text in world.captions(s) for w in text.lower().split()}


# --- the components ---------------------------------------------------------------

def build_unet(p: dict):
    """Cross-attention at every resolution but the coarsest, as in SD v1.x."""
    from diffusers import UNet2DConditionModel
    n = len(p["unet_channels"])
    return UNet2DConditionModel(
        sample_size=p["image_size"] // 2 ** (len(p["vae_channels"]) - 1), in_channels=4, out_channels=4,
        block_out_channels=tuple(p["unet_channels"]), layers_per_block=1,
        down_block_types=("CrossAttnDownBlock2D",) * (n - 1) + ("DownBlock2D",),
        up_block_types=("UpBlock2D",) + ("CrossAttnUpBlock2D",) * (n - 1),
        cross_attention_dim=p["text_width"], attention_head_dim=8, norm_num_groups=8)


def build_scheduler():
    """SD v1.x's betas rescaled to zero terminal SNR, v-prediction, trailing timesteps."""
    from diffusers import DDIMScheduler
    return DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                         set_alpha_to_one=False, steps_offset=1, rescale_betas_zero_snr=True, prediction_type="v_prediction",
                         timestep_spacing="trailing")


# --- data ---------------------------------------------------------------------------

def dataset(n: int, seed: int, size: int, tokenizer) -> tuple[list[world.Scene], torch.Tensor, torch.Tensor]:
    """Scenes, their (n, 3, H, W) uint8 renders and the token ids of their five captions (n, 5, L)."""
    scenes = world.sample_scenes(n, np.random.default_rng(seed))
    images = torch.from_numpy(world.render_all(scenes, size)).permute(0, 3, 1, 2).contiguous()
    texts = [t for s in scenes for t in world.captions(s)]
    ids = tokenizer(texts, padding="max_length", max_length=tokenizer.model_max_length, truncation=True,
                    return_tensors="pt").input_ids
    return scenes, images, ids.reshape(n, 5, -1)


def as_float(images: torch.Tensor) -> torch.Tensor:
    """Map uint8 images (n, 3, H, W) to float in [-1, 1], the VAE's input range."""
    return images.float() / 127.5 - 1


def schedule(step: int, steps: int, warmup: int = 100) -> float:
    """Learning-rate factor: linear warm-up, then cosine decay to 10 %."""
    if step < warmup:
        return (step + 1) / warmup
    return 0.1 + 0.9 * 0.5 * (1 + math.cos(math.pi * (step - warmup) / max(steps - warmup, 1)))


# --- stage 1: the VAE -----------------------------------------------------------------

def train_vae(vae, images: torch.Tensor, p: dict, seed: int, log=print):
    """Reconstruction (MSE) plus a small KL term, as SD's autoencoder without its GAN/perceptual losses."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW(vae.parameters(), lr=p["lr"], weight_decay=0.0)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule(s, p["steps"]))
    vae.train()
    t0, running = time.time(), []
    for step in range(p["steps"]):
        x = as_float(images[torch.randint(len(images), (p["batch"],), generator=g)])
        posterior = vae.encode(x).latent_dist
        z = posterior.mean + posterior.std * torch.randn(posterior.mean.shape, generator=g)
        rec = vae.decode(z).sample
        loss = nn.functional.mse_loss(rec, x) + p["kl_weight"] * posterior.kl().mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        running.append(loss.item())
        if (step + 1) % 100 == 0 or step + 1 == p["steps"]:
            log(f"vae step {step + 1}/{p['steps']}: loss {np.mean(running):.5f} ({(time.time() - t0) / (step + 1):.2f} s/step)")
            running = []
    return vae.eval()


@torch.no_grad()
def psnr(vae, images: torch.Tensor, batch: int = 128) -> float:
    """Mean PSNR (dB, 8-bit scale) of the VAE's reconstructions from the posterior mode."""
    values = []
    for start in range(0, len(images), batch):
        x = as_float(images[start:start + batch])
        rec = vae.decode(vae.encode(x).latent_dist.mode()).sample.clamp(-1, 1)
        mse = ((rec - x) * 127.5).square().mean((1, 2, 3))
        values.append(10 * torch.log10(255 ** 2 / mse.clamp_min(1e-10)))
    return float(torch.cat(values).mean())


@torch.no_grad()
def latent_posteriors(vae, images: torch.Tensor, batch: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Encode uint8 images (n, 3, H, W): the VAE posterior's means and standard deviations, (n, 4, h, w) each.

    They are unscaled: the caller derives the latent scaling factor from them.
    """
    means, stds = [], []
    for start in range(0, len(images), batch):
        d = vae.encode(as_float(images[start:start + batch])).latent_dist
        means.append(d.mean)
        stds.append(d.std)
    return torch.cat(means), torch.cat(stds)


# --- stage 2: text encoder and U-Net --------------------------------------------------

def train_diffusion(unet, text_encoder, scheduler, latents: tuple[torch.Tensor, torch.Tensor], ids: torch.Tensor,
                    uncond_ids: torch.Tensor, p: dict, seed: int, log=print, evaluate=None):
    """v-prediction MSE; returns EMA copies of the U-Net and text encoder.

    ``latents`` are the scaled posterior means and standard deviations of the training
    images (z is sampled from them each step); ``ids`` the token ids of their captions,
    one of the five phrasings drawn per image, replaced by the empty caption with
    probability ``p_uncond``. ``evaluate(unet, text_encoder, step)`` runs every ``eval_every`` steps.
    """
    g = torch.Generator().manual_seed(seed)
    params = list(unet.parameters()) + list(text_encoder.parameters())
    opt = torch.optim.AdamW(params, lr=p["lr"], weight_decay=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: schedule(s, p["steps"]))
    ema_unet, ema_text = copy.deepcopy(unet).eval(), copy.deepcopy(text_encoder).eval()
    pairs = list(zip(ema_unet.parameters(), unet.parameters())) + list(zip(ema_text.parameters(), text_encoder.parameters()))
    mean, std = latents
    n_train = scheduler.config.num_train_timesteps
    unet.train()
    text_encoder.train()
    t0, running = time.time(), []
    for step in range(p["steps"]):
        idx = torch.randint(len(mean), (p["batch"],), generator=g)
        z = mean[idx] + std[idx] * torch.randn(mean[idx].shape, generator=g)
        phrasing = torch.randint(ids.shape[1], (p["batch"],), generator=g)
        tokens = ids[idx, phrasing]
        drop = torch.rand(p["batch"], generator=g) < p["p_uncond"]
        tokens[drop] = uncond_ids
        noise = torch.randn(z.shape, generator=g)
        t = torch.randint(n_train, (p["batch"],), generator=g)
        noisy = scheduler.add_noise(z, noise, t)
        target = scheduler.get_velocity(z, noise, t)
        c = text_encoder(tokens)[0]
        loss = nn.functional.mse_loss(unet(noisy, t, c).sample, target)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        decay = min(p["ema"], (1 + step) / (10 + step))
        with torch.no_grad():
            for e, q in pairs:
                e.lerp_(q, 1 - decay)
        running.append(loss.item())
        if (step + 1) % 100 == 0 or step + 1 == p["steps"]:
            log(f"diffusion step {step + 1}/{p['steps']}: loss {np.mean(running):.4f} "
                f"({(time.time() - t0) / (step + 1):.2f} s/step)")
            running = []
        if evaluate is not None and ((step + 1) % p["eval_every"] == 0 or step + 1 == p["steps"]):
            evaluate(ema_unet, ema_text, step + 1)
    return ema_unet, ema_text


# --- measuring the model ----------------------------------------------------------------

def pipeline(vae, text_encoder, tokenizer, unet, scheduler):
    """Assemble a StableDiffusionPipeline from the components (no safety checker, no progress bar)."""
    from diffusers import StableDiffusionPipeline
    pipe = StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet,
                                   scheduler=scheduler, safety_checker=None, feature_extractor=None,
                                   requires_safety_checker=False)
    pipe.set_progress_bar_config(disable=True)
    return pipe


def held_out_captions(n: int, seed: int) -> tuple[list[world.Scene], list[str]]:
    """Scenes balanced over shapes (n a multiple of 4), each with one of its captions (cycled)."""
    scenes = world.sample_scenes(n, np.random.default_rng(seed))
    return scenes, [world.captions(s)[i % 5] for i, s in enumerate(scenes)]


@torch.no_grad()
def text_to_image_accuracy(pipe, scorer, n: int, seed: int, steps: int, guidance: float, batch: int = 25) -> dict:
    """Fraction of text-to-image outputs whose scored attributes match their held-out caption.

    Each attribute is scored over the captions that name it: all name shape and colour, 3 in 5 the background.
    """
    scenes, texts = held_out_captions(n, seed)
    images = []
    for start in range(0, n, batch):
        gens = [torch.Generator().manual_seed(seed * 100_003 + i) for i in range(start, min(start + batch, n))]
        out = pipe(texts[start:start + batch], num_inference_steps=steps, guidance_scale=guidance,
                   generator=gens, output_type="np").images
        images.append((np.clip(out, 0, 1) * 255).round().astype(np.uint8))
    return score.accuracy(scorer, np.concatenate(images), scenes, texts)


# --- the whole training -----------------------------------------------------------------

def train(out_dir: str | Path, scorer_path: str | Path, p: dict, log=print) -> dict:
    """Train scorer, VAE, text encoder and U-Net; save the pipeline and scorer; return the measurements."""
    fast_malloc()
    torch.set_num_threads(p.get("threads") or torch.get_num_threads())
    seed, size = p["seed"], p["image_size"]
    torch.manual_seed(seed)
    metrics: dict = {"seed": seed}

    log("stage 1/3: attribute scorer")
    scorer = score.train_scorer(p["scorer"]["n_images"], p["scorer"]["steps"], seed + 1, size, log)
    held_scenes, held_images = score.scenes_and_images(1000, seed + 2, size)
    metrics["scorer_accuracy"] = score.accuracy(scorer, held_images, held_scenes)
    log(f"scorer accuracy on 1000 held-out renders: {metrics['scorer_accuracy']}")

    tokenizer = build_tokenizer(vocabulary(seed), p["max_length"])
    scenes, images, ids = dataset(p["n_images"], seed + 3, size, tokenizer)
    held = torch.from_numpy(held_images).permute(0, 3, 1, 2).contiguous()
    log(f"{len(scenes)} training scenes, vocabulary of {len(tokenizer)} tokens")

    log("stage 2/3: VAE")
    t0 = time.time()
    vae = train_vae(build_vae(p), images, p["vae"], seed + 4, log)
    metrics["vae_psnr_db"] = psnr(vae, held)
    metrics["vae_minutes"] = (time.time() - t0) / 60
    mean, std = latent_posteriors(vae, images)
    scaling = float(1 / mean.std())
    vae.register_to_config(scaling_factor=scaling)
    metrics["scaling_factor"] = scaling
    log(f"VAE held-out PSNR {metrics['vae_psnr_db']:.2f} dB; latent scaling factor {scaling:.4f}")
    vae.requires_grad_(False)

    log("stage 3/3: text encoder and U-Net")
    scheduler = build_scheduler()
    uncond = tokenizer([""], padding="max_length", max_length=tokenizer.model_max_length, return_tensors="pt").input_ids[0]
    history = []

    def evaluate(unet, text_encoder, step):
        acc = text_to_image_accuracy(pipeline(vae, text_encoder, tokenizer, unet, scheduler), scorer,
                                     p["eval"]["n_during"], seed + 5, p["eval"]["steps"], p["eval"]["guidance"])
        history.append({"step": step, **acc})
        log(f"step {step}: text-to-image attribute accuracy {acc}")

    t0 = time.time()
    unet, text_encoder = train_diffusion(build_unet(p), build_text_encoder(tokenizer, p), scheduler,
                                         (mean * scaling, std * scaling), ids, uncond, p["diffusion"], seed + 6,
                                         log, evaluate)
    metrics["diffusion_minutes"] = (time.time() - t0) / 60
    metrics["history"] = history
    pipe = pipeline(vae, text_encoder, tokenizer, unet, scheduler)
    metrics["text_to_image"] = text_to_image_accuracy(pipe, scorer, p["eval"]["n_final"], seed + 7,
                                                      p["eval"]["steps"], p["eval"]["guidance"])
    metrics["parameters"] = {name: sum(q.numel() for q in part.parameters())
                             for name, part in (("vae", vae), ("text_encoder", text_encoder), ("unet", unet))}
    log(f"final text-to-image accuracy on {p['eval']['n_final']} held-out captions: {metrics['text_to_image']}")
    save_pipeline(pipe, out_dir)
    score.save(scorer, scorer_path)
    (Path(out_dir) / "training.json").write_text(json.dumps(metrics, indent=1))
    return metrics
