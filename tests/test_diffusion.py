"""Diffusion features: z_c at noise levels and steps, and hook-captured U-Net layers, in one pass."""
from dataclasses import replace

import numpy as np
import pytest
import torch

from sdbrain.errors import ArgumentError
from sdbrain.sd import diffusion, features, pipeline

PARAMS = pipeline.Sampling(image_size=32, steps=6, guidance_scale=5.0, eta=0.0, seed=0, batch_size=2)
STEPS = {"early": 0.0, "middle": 0.5, "late": 1.0}
LAYERS = {"down1": "down_blocks.0", "down2": "down_blocks.1", "mid": "mid_block", "up1": "up_blocks.0",
          "up2": "up_blocks.1"}


@pytest.fixture(scope="module")
def stimuli(pipe):
    ids = np.array([5, 11, 17])
    c = features.encode_c(pipe, [["a red circle"], ["a blue star"], ["a red star"]], ids, batch_size=8)
    images = np.random.default_rng(1).integers(0, 255, size=(3, 40, 40, 3), dtype=np.uint8)
    return ids, images, c


@pytest.fixture(scope="module")
def captured(pipe, stimuli):
    """Features of three images (batches of 2 and 1), with the U-Net's inputs of every call recorded."""
    ids, images, c = stimuli
    calls = []
    record = pipe.unet.register_forward_pre_hook(
        lambda m, args, kwargs: calls.append((args[0].clone(), args[1], kwargs["encoder_hidden_states"].clone())),
        with_kwargs=True)
    try:
        out = diffusion.extract(pipe, images, c, ids, 0.5, PARAMS, STEPS, LAYERS, grid=4)
    finally:
        record.remove()
    return out, calls


def test_names_and_shapes(captured):
    out, calls = captured
    assert sorted(out) == sorted(diffusion.names(STEPS, LAYERS))
    assert len(calls) == 2 * 3, "int(6 x 0.5) = 3 denoising steps for each of two batches"
    # 32 px image -> 8x8 latent; down1 (32 ch) ends at 4x4, down2 and mid (64 ch) at 4x4, up1 back to 8x8 -> pooled 4x4
    widths = {"zc": 256, "zc-early": 256, "unet-down1-early": 32 * 16, "unet-down2-middle": 64 * 16,
              "unet-mid-late": 64 * 16, "unet-up1-early": 64 * 16, "unet-up2-late": 32 * 16}
    for name, width in widths.items():
        assert out[name].shape == (3, width) and out[name].dtype == np.float32, name
    assert np.array_equal(out["zc-late"], out["zc"]), "the late step's latent is the final z_c"
    assert not np.allclose(out["zc-early"], out["zc"])
    assert not np.allclose(out["unet-mid-early"], out["unet-mid-late"]), "steps see different latents"


def test_hook_features_equal_a_separate_forward_pass(pipe, captured):
    """The third image's middle step, recomputed from the U-Net's inputs outside the pipeline."""
    out, calls = captured
    sample, t, context = calls[3 + 1]  # second batch (the third image alone), middle step = call 1 of 0, 1, 2
    sample, context = sample[-1:], context[-1:]  # [unconditional; conditional]: the conditional half
    unet = pipe.unet
    with torch.no_grad():
        # down1 by hand: time embedding, input convolution, first down block
        emb = unet.time_embedding(unet.time_proj(t.reshape(1)).to(sample.dtype))
        h = unet.down_blocks[0](hidden_states=unet.conv_in(sample), temb=emb, encoder_hidden_states=context)[0]
        assert np.allclose(diffusion.pool(h, 4).numpy()[0], out["unet-down1-middle"][2], atol=1e-5)
        # the bottleneck: a whole U-Net call of its own
        kept = []
        handle = unet.mid_block.register_forward_hook(lambda m, a, o: kept.append(o))
        try:
            unet(sample, t, encoder_hidden_states=context)
        finally:
            handle.remove()
        expected = torch.nn.functional.adaptive_avg_pool2d(kept[0], 4).flatten(1).numpy()[0]
    assert np.allclose(expected, out["unet-mid-middle"][2], atol=1e-5)
    assert not np.allclose(expected, out["unet-mid-middle"][1], atol=1e-3), "rows stay with their images"


def test_features_do_not_depend_on_batching(pipe, stimuli, captured):
    ids, images, c = stimuli
    alone = diffusion.extract(pipe, images[2:], c[2:], ids[2:], 0.5, replace(PARAMS, batch_size=1), STEPS, LAYERS, grid=4)
    for name in ("zc", "zc-middle", "unet-down2-early", "unet-up2-late"):
        assert np.allclose(alone[name][0], captured[0][name][2], atol=1e-5), name


def test_final_zc_is_deterministic_and_depends_on_the_noise_level(pipe, stimuli, captured):
    ids, images, c = stimuli
    plain = diffusion.extract(pipe, images, c, ids, 0.5, PARAMS)
    assert list(plain) == ["zc"] and np.array_equal(plain["zc"], captured[0]["zc"]), "hooks do not change z_c"
    assert not np.allclose(plain["zc"], diffusion.extract(pipe, images, c, ids, 1.0, PARAMS)["zc"])


def test_step_indices():
    assert diffusion.n_denoising_steps(50, 0.75) == 37
    assert diffusion.step_indices(37, STEPS) == {"early": 0, "middle": 18, "late": 36}
    assert diffusion.step_indices(1, STEPS) == {"early": 0, "middle": 0, "late": 0}


def test_strength_too_small_names_the_argument(pipe, stimuli):
    """The config's strengths are checked at parse time (tests/test_errors.py); a call from code names the argument."""
    ids, images, c = stimuli
    with pytest.raises(ArgumentError, match="^argument 'strength': strength 0.1 with 5 steps leaves no") as err:
        diffusion.extract(pipe, images, c, ids, 0.1, replace(PARAMS, steps=5))
    assert err.value.argument == "strength"


def test_unknown_layer_is_named(pipe, stimuli):
    """A U-Net module that the model lacks is named with the modules it has (a job names features.unet_layers)."""
    ids, images, c = stimuli
    with pytest.raises(ArgumentError, match="^argument 'layers': this U-Net has no module 'up_blocks.7' \\(for up9\\); "
                                            "its blocks are down_blocks.0-1, mid_block, up_blocks.0-1") as err:
        diffusion.extract(pipe, images, c, ids, 0.5, PARAMS, STEPS, {"up9": "up_blocks.7"})
    assert err.value.argument == "layers"
