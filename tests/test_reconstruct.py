"""Reconstruction: shapes, determinism, independence from chunking and batching, bad sizes."""
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from sdbrain.errors import ArgumentError, InputError
from sdbrain.reconstruction import reconstruct
from sdbrain.sd import features, pipeline
from sdbrain.workflow import chunks, spaces

PARAMS = pipeline.Sampling(image_size=32, steps=3, guidance_scale=5.0, eta=0.0, n_samples=2, seed=0, batch_size=3)
Z_SIZE = 24  # -> 4 x 6 x 6 latent with the toy VAE's factor 4


@pytest.fixture(scope="module")
def decoded(pipe):
    rng = np.random.default_rng(0)
    ids = np.array([5, 11, 17])
    z = rng.normal(size=(3, 4 * 6 * 6)).astype(np.float32)
    c = features.encode_c(pipe, [["a red circle"], ["a blue star"], ["a red star"]], ids, batch_size=8)
    return ids, z, c


@pytest.mark.parametrize("method", ["z", "c", "zc0.8"])
def test_shapes_and_rerun_identity(pipe, decoded, method):
    ids, z, c = decoded
    name, strength = spaces.parse_method(method)
    first = reconstruct.run(pipe, name, strength, ids, z, c, Z_SIZE, PARAMS)
    again = reconstruct.run(pipe, name, strength, ids, z, c, Z_SIZE, PARAMS)
    samples = 1 if name == "z" else PARAMS.n_samples
    assert first.shape == (3, samples, 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again), "the same chunk run twice gives identical images"
    if samples > 1:
        assert not np.array_equal(first[:, 0], first[:, 1]), "samples differ from each other"


@pytest.mark.parametrize("method", ["c", "zc0.8"])
def test_chunking_does_not_change_images(pipe, decoded, method):
    ids, z, c = decoded
    name, strength = spaces.parse_method(method)
    params = replace(PARAMS, batch_size=1)
    whole = reconstruct.run(pipe, name, strength, ids, z, c, Z_SIZE, params)
    for n_chunks in (2, 3):
        parts = []
        for k in range(n_chunks):
            rows = np.isin(ids, chunks.job_chunk(ids, k, n_chunks, params.batch_size))
            parts.append(reconstruct.run(pipe, name, strength, ids[rows], z[rows], c[rows], Z_SIZE, params))
        assert np.array_equal(whole, np.concatenate(parts))


def test_batch_size_changes_rounding_only(pipe, decoded):
    ids, z, c = decoded
    a = reconstruct.run(pipe, "zc", 0.8, ids, z, c, Z_SIZE, replace(PARAMS, batch_size=3)).astype(int)
    b = reconstruct.run(pipe, "zc", 0.8, ids, z, c, Z_SIZE, replace(PARAMS, batch_size=1)).astype(int)
    difference = np.abs(a - b)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3


def test_chunks_are_whole_batches():
    ids = np.arange(10, 20)
    parts = [chunks.job_chunk(ids, k, 3, batch_size=4) for k in range(3)]
    assert [p.tolist() for p in parts] == [list(range(10, 14)), list(range(14, 18)), [18, 19]]
    assert [len(chunks.job_chunk(ids, k, 5, batch_size=4)) for k in range(5)] == [4, 4, 2, 0, 0]


def test_strength_too_small_for_the_steps(pipe, decoded):
    """A strength that leaves no denoising step is an argument error here; the config's strengths are refused at
    parse time (tests/test_errors.py)."""
    ids, z, c = decoded
    with pytest.raises(ArgumentError, match="^argument 'strength': strength 0.05 with 10 steps leaves no denoising"):
        reconstruct.run(pipe, "zc", 0.05, ids, z, c, Z_SIZE, replace(PARAMS, steps=10))


def test_png_names_round_trip():
    assert reconstruct.png_name(np.int64(2950), 1) == "2950_1.png"
    assert reconstruct.parse_png_name(reconstruct.png_name(73000, 12)) == (73000, 12)
    for name in ("2950.png", "2950_1.jpg", "a_1.png", "2950_1.png.tmp"):
        with pytest.raises(InputError, match="not a reconstruction's file name"):
            reconstruct.parse_png_name(name)


def test_reconstruct_imports_no_torch():
    """reconstruct_manifest (a torch-free rule) parses the PNG names with sdbrain.reconstruction.reconstruct."""
    import subprocess
    import sys
    code = "import sys, sdbrain.reconstruction.reconstruct; assert 'torch' not in sys.modules"
    subprocess.run([sys.executable, "-c", code], check=True, env={"PYTHONPATH": str(Path(features.__file__).parents[2])})


def test_decoded_features_of_the_wrong_size(pipe):
    with pytest.raises(InputError, match=r"z has 10 values per image but this model's z at 24 px has 144 \(4x6x6\)"):
        reconstruct.check_features(pipe, np.zeros((2, 10), np.float32), None, Z_SIZE)
    with pytest.raises(InputError, match=r"c has 7 values per image but this model's text embedding has 4928 \(77x64\)"):
        reconstruct.check_features(pipe, None, np.zeros((2, 7), np.float32), Z_SIZE)


def test_z_features_sample_and_mode(pipe):
    images = np.random.default_rng(0).integers(0, 255, size=(4, 40, 40, 3), dtype=np.uint8)
    ids = np.array([1, 2, 3, 4])
    mode = features.encode_z(pipe, images, ids, Z_SIZE, sample=False, seed=0, batch_size=4)
    sampled = features.encode_z(pipe, images, ids, Z_SIZE, sample=True, seed=0, batch_size=4)
    sampled_in_parts = np.concatenate([features.encode_z(pipe, images[:1], ids[:1], Z_SIZE, True, 0, 1),
                                       features.encode_z(pipe, images[1:], ids[1:], Z_SIZE, True, 0, 2)])
    assert mode.shape == (4, 144) and not np.allclose(mode, sampled)
    assert np.allclose(sampled, sampled_in_parts, atol=1e-5), "posterior samples depend on the image, not the batch"



def test_compvis_noise_start_noises_one_ddim_step_above_the_first_denoised(pipe):
    """CompVis's stochastic_encode(t_enc) then decode from t_enc - 1: with 50 steps and s = 0.8 diffusers denoises
    from 781 and the released code noises to 801; the start latent is add_noise at that timestep."""
    import torch
    from diffusers import DDIMScheduler
    scheduler = DDIMScheduler.from_config({**pipe.scheduler.config, "timestep_spacing": "leading", "steps_offset": 1})
    image = torch.rand(1, 3, 32, 32) * 2 - 1
    starts = {}
    for mode in ("compvis", "diffusers"):
        runner = pipeline.img2img_pipeline(pipe, mode)
        runner.scheduler = scheduler
        runner.scheduler.set_timesteps(50)
        timesteps, _ = runner.get_timesteps(50, 0.8, "cpu")
        assert timesteps[0] == 781 and len(timesteps) == 40
        starts[mode] = runner.prepare_latents(image, timesteps[:1], 1, 1, torch.float32, "cpu",
                                              torch.Generator().manual_seed(0))
    clean = pipe.vae.encode(image).latent_dist.sample(torch.Generator().manual_seed(0)) * pipe.vae.config.scaling_factor
    noise_generator = torch.Generator().manual_seed(0)
    pipe.vae.encode(image).latent_dist.sample(noise_generator)  # the draws prepare_latents makes before the noise
    noise = torch.randn(clean.shape, generator=noise_generator)
    for mode, t in (("compvis", 801), ("diffusers", 781)):
        expected = scheduler.add_noise(clean, noise, torch.tensor([t]))
        assert torch.allclose(starts[mode], expected, atol=1e-5), mode
    signal = scheduler.alphas_cumprod[801].sqrt() / scheduler.alphas_cumprod[781].sqrt()
    assert float(signal) == pytest.approx(0.91, abs=0.01), "about 9 % less of X_z's signal in the start latent"


def test_compvis_x_z_is_truncated_and_bicubic(pipe, decoded):
    """The released code: ``x_sample.astype(np.uint8)`` then PIL's ``resize((512, 512))`` (bicubic)."""
    import torch
    from PIL import Image
    ids, z, _ = decoded
    latents = torch.from_numpy(z).reshape(-1, 4, 6, 6) / pipe.vae.config.scaling_factor
    with torch.no_grad():
        x = ((pipe.vae.decode(latents).sample.clamp(-1, 1) + 1) / 2).permute(0, 2, 3, 1).numpy()
    truncated = (x * 255).astype(np.uint8)
    expected = np.stack([np.asarray(Image.fromarray(im).resize((32, 32), Image.BICUBIC)) for im in truncated])
    got = reconstruct.run(pipe, "z", None, ids, z, None, Z_SIZE, replace(PARAMS, x_z_resample="compvis"))[:, 0]
    assert np.abs(got.astype(int) - expected).max() <= 1, "float32 rounding of (x + 1) * 127.5 vs (x + 1) / 2 * 255"
    assert (got == expected).mean() > 0.99
    lanczos = reconstruct.run(pipe, "z", None, ids, z, None, Z_SIZE, replace(PARAMS, x_z_resample="lanczos"))[:, 0]
    assert not np.array_equal(got, lanczos)


def test_sampling_takes_the_reconstruct_section_and_refuses_unknown_details():
    """Sampling.pick takes the sampler's keys of config section reconstruct (not strengths, n_chunks or device), with
    changes (the diffusion features take one sample); the released code's details are the defaults."""
    section = {"image_size": 64, "strengths": [0.8], "steps": 20, "guidance_scale": 5.0, "eta": 0.0, "n_samples": 5,
               "seed": 0, "batch_size": 10, "n_chunks": 1, "device": "auto", "noise_start": "diffusers",
               "x_z_resample": "lanczos"}
    assert pipeline.Sampling.pick(section, n_samples=1) == pipeline.Sampling(64, 20, 5.0, 0.0, 0, 10, 1, "diffusers",
                                                                             "lanczos")
    default = pipeline.Sampling(64, 20, 5.0, 0.0, 0, 10)
    assert (default.noise_start, default.x_z_resample, default.n_samples) == ("compvis", "compvis", 1)
    for key, value in (("noise_start", "ddpm"), ("x_z_resample", "nearest")):
        with pytest.raises(ArgumentError, match=f"^argument '{key}': '{value}' is not one of") as err:
            replace(default, **{key: value})
        assert err.value.argument == key
