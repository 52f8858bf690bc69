"""GPU figures at NSD size, in one run (benchmarks/gpu.sh runs this on a CUDA machine).

- decoder fit: 24,980 training trials x 7,500 early-ROI voxels (subj01's streams label 1
  has about 7,500 voxels at 1.8 mm) -> 6,400 targets (z) and -> 59,136 targets (c),
  11 alphas, 5 folds, through sdbrain.linear.ridge.fit (float32 on the GPU; the default eigh
  solver, and himalaya's RidgeCV at 6,400 targets for comparison);
- img2img throughput of a pipeline with SD v1.4's architecture (U-Net 860M, VAE, CLIP
  ViT-L/14 text encoder) and seeded random weights, saved and loaded back through
  sdbrain.sd.pipeline.load_pipeline (fp16), 512 px, 50 DDIM steps at strength 0.8, guidance 5,
  batch sizes 1 and 8, through sdbrain.sd.pipeline.generate;
- diffusion features (z_c and five U-Net layers at three steps, hooks and pooling) at
  batch 8, through sdbrain.sd.diffusion.extract, with its peak GPU memory;
- encoding fit: 24,980 trials x 6,400 features -> 20,000 voxels, through
  sdbrain.linear.encode.fit_voxels (eigh solver), as voxels per second;
- banded ridge joint model (encode.joint: banded): 24,980 trials x (6,400 + 6,400) features
  -> one block of 4,000 voxels, through sdbrain.linear.banded.fit_voxels with config/nsd.yaml's
  settings but encode.banded.solver: himalaya (on torch_cuda), and 200,000 voxels in
  nsd.yaml's blocks estimated from it (its work repeats per block and band weight).

``--small`` shrinks every size so the script can be checked on a CPU.
"""
from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import banded as banded_cost  # noqa: E402  (benchmarks/banded.py: the flop count and nsd.yaml's settings)
from sdbrain import devices  # noqa: E402
from sdbrain.linear import banded, encode, ridge  # noqa: E402
from sdbrain.sd import diffusion, pipeline  # noqa: E402
from sdbrain.toy import model as toy_model  # noqa: E402

ALPHAS = [1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1.0, 1e1, 1e2, 1e3, 1e4]
SD_LAYERS = {"down1": "down_blocks.1", "down2": "down_blocks.2", "mid": "mid_block", "up1": "up_blocks.1",
             "up2": "up_blocks.2"}
STEPS = {"early": 0.0, "middle": 0.5, "late": 1.0}
ROWS = []


def report(what, size, seconds, rate=""):
    ROWS.append((what, size, f"{seconds:.2f}", rate))
    print(f"{what:38s} {size:48s} {seconds:9.2f} s  {rate}", flush=True)


def sync():
    if torch.cuda.is_available():
        torch.cuda.synchronize()


def problem(n, p, t, device):
    """Betas (n, p) and targets (n, t) with a linear relation, made on the GPU."""
    g = torch.Generator(device).manual_seed(0)
    x = torch.randn(n, p, device=device, generator=g)
    w = torch.randn(p, t, device=device, generator=g) / p ** 0.5
    y = x @ w + torch.randn(n, t, device=device, generator=g)
    return x.cpu().numpy(), y.cpu().numpy()


def decoder(n, p, targets, device):
    """Each size with the default eigh solver; the first also with himalaya's solver, for the ratio."""
    for k, t in enumerate(targets):
        x, y = problem(n, p, t, device)
        for solver in ("eigh", "himalaya") if k == 0 else ("eigh",):
            sync()
            start = time.perf_counter()
            settings = ridge.Settings(ALPHAS, folds=5, fit_intercept=True, backend="auto", solver=solver,
                                      n_targets_batch=10000)
            model = ridge.fit(x, y, settings)
            sync()
            report(f"decoder fit ({model.backend})", f"{n:,} x {p:,} -> {t:,}, 11 alphas, 5 folds",
                   time.perf_counter() - start)
            del model
        del x, y


def sd14_pipeline(out: Path, small: bool, device: str):
    """SD v1.4's architecture with seeded random weights, saved in diffusers format, loaded back in fp16."""
    from diffusers import AutoencoderKL, DDIMScheduler, StableDiffusionPipeline, UNet2DConditionModel
    from transformers import CLIPTextConfig, CLIPTextModel

    torch.manual_seed(0)
    tokenizer = toy_model.build_tokenizer(["a", "photo", "of", "cat", "dog"], 77)
    with torch.device(device):
        if small:
            unet = UNet2DConditionModel(sample_size=8, block_out_channels=(32, 64, 64, 64), cross_attention_dim=32,
                                        norm_num_groups=8, attention_head_dim=8)
            vae = AutoencoderKL(block_out_channels=(8, 16, 16, 16), latent_channels=4, norm_num_groups=8,
                                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4)
            text = CLIPTextConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                                  num_attention_heads=4, max_position_embeddings=77)
        else:
            unet = UNet2DConditionModel(sample_size=64, cross_attention_dim=768)  # diffusers' defaults are SD v1's
            vae = AutoencoderKL(block_out_channels=(128, 256, 512, 512), layers_per_block=2, latent_channels=4,
                                down_block_types=("DownEncoderBlock2D",) * 4, up_block_types=("UpDecoderBlock2D",) * 4,
                                sample_size=512)
            text = CLIPTextConfig(vocab_size=49408, hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                                  num_attention_heads=12, max_position_embeddings=77, hidden_act="quick_gelu")
        text_encoder = CLIPTextModel(text)
    scheduler = DDIMScheduler(beta_start=0.00085, beta_end=0.012, beta_schedule="scaled_linear", clip_sample=False,
                              set_alpha_to_one=False, steps_offset=1)
    StableDiffusionPipeline(vae=vae, text_encoder=text_encoder, tokenizer=tokenizer, unet=unet, scheduler=scheduler,
                            safety_checker=None, feature_extractor=None,
                            requires_safety_checker=False).save_pretrained(out)
    del unet, vae, text_encoder
    return pipeline.load_pipeline(out, device)


def img2img(pipe, size, steps, batches, n_images):
    rng = np.random.default_rng(0)
    sampling = pipeline.Sampling(image_size=size, steps=steps, guidance_scale=5.0, eta=0.0, seed=0, batch_size=1,
                                 n_samples=1)
    width = int(np.prod(pipe.text_encoder.config.hidden_size * 77))
    for batch in batches:
        n = n_images * batch
        images = rng.integers(0, 255, size=(n, size, size, 3), dtype=np.uint8)
        c = rng.normal(size=(n, width)).astype(np.float32)
        ids = np.arange(1, n + 1)
        run = replace(sampling, batch_size=batch)
        pipeline.generate(pipe, c[:batch], ids[:batch], run, init=images[:batch], strength=0.8)  # warm-up
        sync()
        start = time.perf_counter()
        pipeline.generate(pipe, c, ids, run, init=images, strength=0.8)
        sync()
        seconds = time.perf_counter() - start
        report(f"img2img, fp16, batch {batch}", f"{n} images, {size} px, {int(steps * 0.8)} of {steps} steps",
               seconds, f"{n / seconds:.2f} images/s")
    batch = batches[-1]
    n = n_images * batch
    images = rng.integers(0, 255, size=(n, size, size, 3), dtype=np.uint8)
    c = rng.normal(size=(n, width)).astype(np.float32)
    if torch.cuda.is_available():
        torch.cuda.reset_peak_memory_stats()
    sync()
    start = time.perf_counter()
    out = diffusion.extract(pipe, images, c, np.arange(1, n + 1), 0.75, replace(sampling, batch_size=batch),
                            STEPS, SD_LAYERS if size >= 256 else {"mid": "mid_block"}, grid=4)
    sync()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else float("nan")
    widest = max(v.shape[1] for v in out.values())
    report(f"diffusion features, batch {batch}", f"{n} images, s=0.75, {len(out)} spaces, widest {widest:,}",
           seconds, f"{n / seconds:.2f} images/s, peak GPU {peak:.1f} GiB")


def encoding(n, p, voxels, device):
    x, y = problem(n, p, voxels, device)
    rows = np.arange(n)
    x_test, y_test = x[:500], y[:500]
    fitting = ridge.Settings([1.0, 10.0, 100.0, 1e3, 1e4, 1e5, 1e6, 1e7], folds=5, fit_intercept=True, backend="auto",
                             n_targets_batch=10000)
    settings = encode.Settings(fitting, fdr_q=0.05, voxel_block=voxels)
    sync()
    start = time.perf_counter()
    result = encode.fit_voxels(x, rows, x_test, y, y_test, settings)
    sync()
    seconds = time.perf_counter() - start
    report(f"encoding fit ({result.backend})", f"{n:,} x {p:,} -> {voxels:,} voxels", seconds,
           f"{voxels / seconds:,.0f} voxels/s; 200k voxels ~{200_000 / voxels * seconds / 60:.1f} min")


def banded_joint(n, p, voxels, n_test, device, n_iter=None):
    """Two spaces of p columns (one row per image, each image seen twice) -> voxels driven by both."""
    g = torch.Generator(device).manual_seed(0)
    images = n // 2
    xs = [torch.randn(images + n_test, p, device=device, generator=g) for _ in range(2)]
    signal = sum(x @ torch.randn(p, voxels, device=device, generator=g) / (2 * p) ** 0.5 for x in xs)
    rows = np.arange(n) % images
    y_train = (signal[:images][torch.as_tensor(rows, device=device)]
               + torch.randn(n, voxels, device=device, generator=g)).cpu().numpy()
    y_test = (signal[images:] + torch.randn(n_test, voxels, device=device, generator=g) / 3 ** 0.5).cpu().numpy()
    train, test = [x[:images].cpu().numpy() for x in xs], [x[images:].cpu().numpy() for x in xs]
    del xs, signal
    # himalaya's solver, whose time this row extrapolates by blocks (the eigh solver's does not scale so)
    nsd = banded_cost.params("nsd.yaml")
    run = banded_cost.params("nsd.yaml", backend="auto", voxel_block=None, memory_mb=None)  # one block
    himalaya = replace(nsd.band, solver="himalaya")
    # fewer band weights: himalaya's work is the same for each, so time scales with n_iter
    search = replace(himalaya, n_iter=n_iter) if n_iter else himalaya
    sync()
    start = time.perf_counter()
    result = banded.fit_voxels(train, rows, test, y_train, y_test, run.settings, search, run.seed)
    sync()
    seconds = time.perf_counter() - start
    block = banded.block_size(nsd.settings, himalaya.solver, n, 2 * p, n_test)
    # per block, himalaya decomposes the training design once per band weight and fold and applies
    # it to the block's voxels: blocks and band weights scale the time (the per-voxel products are small)
    blocks = -(-banded_cost.NSD_VOXELS // block)
    share = blocks * himalaya.n_iter / search.n_iter
    report(f"banded ridge joint model ({result.backend.split('/')[-1]})",
           f"{n:,} x ({p:,} + {p:,}) -> {voxels:,} voxels, n_iter {search.n_iter}, "
           f"{len(run.settings.ridge.alphas)} alphas", seconds,
           f"n_iter {himalaya.n_iter}, 200k voxels in {blocks} blocks of {block:,}: ~{seconds * share / 3600:.1f} h")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--small", action="store_true", help="tiny sizes, to check the script on a CPU")
    parser.add_argument("--out", default=None, help="also write the table here (markdown)")
    parser.add_argument("--banded-only", type=int, default=0, metavar="N_ITER",
                        help="only the banded ridge row, with N_ITER band weights")
    args = parser.parse_args()
    device = devices.cuda_or_cpu("auto")
    print(f"device: {torch.cuda.get_device_name() if device == 'cuda' else 'cpu'}; torch {torch.__version__}")
    small = args.small
    if args.banded_only:
        banded_joint(*((400, 32, 200, 50) if small else (24_980, 6_400, 4_000, 982)), device, args.banded_only)
        return
    decoder(*((500, 100, [64, 640]) if small else (24_980, 7_500, [6_400, 59_136])), device)
    encoding(*((500, 64, 2_000) if small else (24_980, 6_400, 20_000)), device)
    tmp = Path(tempfile.mkdtemp())
    try:
        start = time.perf_counter()
        pipe = sd14_pipeline(tmp / "sd14_random", small, device)
        report("SD v1.4-shaped random pipeline", "build, save, load_pipeline (fp16 on GPU)",
               time.perf_counter() - start)
        img2img(pipe, 64 if small else 512, 5 if small else 50, [1, 8] if not small else [1, 2], 2)
        del pipe
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    if device == "cuda":
        torch.cuda.empty_cache()
    banded_joint(*((400, 32, 200, 50) if small else (24_980, 6_400, 4_000, 982)), device)
    table = "| what | size | seconds | rate |\n|---|---|---|---|\n" + "".join(
        f"| {a} | {b} | {c} | {d} |\n" for a, b, c, d in ROWS)
    print("\n" + table)
    if args.out:
        Path(args.out).write_text(table)


if __name__ == "__main__":
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    main()
