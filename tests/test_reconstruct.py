"""Reconstruction: shapes, determinism, independence from chunking and batching, bad sizes."""
import numpy as np
import pytest

from sdbrain import features, reconstruct, sd
from sdbrain.errors import InputError

PARAMS = dict(image_size=32, steps=3, guidance_scale=5.0, eta=0.0, n_samples=2, seed=0, batch_size=3)
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
    name, strength = reconstruct.parse_method(method)
    first = reconstruct.run(pipe, name, strength, ids, z, c, Z_SIZE, PARAMS)
    again = reconstruct.run(pipe, name, strength, ids, z, c, Z_SIZE, PARAMS)
    samples = 1 if name == "z" else PARAMS["n_samples"]
    assert first.shape == (3, samples, 32, 32, 3) and first.dtype == np.uint8
    assert np.array_equal(first, again), "the same chunk run twice gives identical images"
    if samples > 1:
        assert not np.array_equal(first[:, 0], first[:, 1]), "samples differ from each other"


@pytest.mark.parametrize("method", ["c", "zc0.8"])
def test_chunking_does_not_change_images(pipe, decoded, method):
    ids, z, c = decoded
    name, strength = reconstruct.parse_method(method)
    params = {**PARAMS, "batch_size": 1}
    whole = reconstruct.run(pipe, name, strength, ids, z, c, Z_SIZE, params)
    for n_chunks in (2, 3):
        parts = []
        for k in range(n_chunks):
            rows = np.isin(ids, sd.chunk(ids, k, n_chunks, params["batch_size"]))
            parts.append(reconstruct.run(pipe, name, strength, ids[rows], z[rows], c[rows], Z_SIZE, params))
        assert np.array_equal(whole, np.concatenate(parts))


def test_batch_size_changes_rounding_only(pipe, decoded):
    ids, z, c = decoded
    a = reconstruct.run(pipe, "zc", 0.8, ids, z, c, Z_SIZE, {**PARAMS, "batch_size": 3}).astype(int)
    b = reconstruct.run(pipe, "zc", 0.8, ids, z, c, Z_SIZE, {**PARAMS, "batch_size": 1}).astype(int)
    difference = np.abs(a - b)
    assert difference.max() <= 1 and (difference > 0).mean() < 1e-3


def test_chunks_are_whole_batches():
    ids = np.arange(10, 20)
    parts = [sd.chunk(ids, k, 3, batch_size=4) for k in range(3)]
    assert [p.tolist() for p in parts] == [list(range(10, 14)), list(range(14, 18)), [18, 19]]
    assert [len(sd.chunk(ids, k, 5, batch_size=4)) for k in range(5)] == [4, 4, 2, 0, 0]


def test_strength_too_small_for_the_steps(pipe, decoded):
    ids, z, c = decoded
    with pytest.raises(InputError, match="strength 0.05 with 10 steps leaves no denoising step"):
        reconstruct.run(pipe, "zc", 0.05, ids, z, c, Z_SIZE, {**PARAMS, "steps": 10})


def test_decoded_features_of_the_wrong_size(pipe):
    with pytest.raises(InputError, match=r"z has 10 values per image but this model's z at 24 px has 144 \(4x6x6\)"):
        reconstruct.check_features(pipe, np.zeros((2, 10), np.float32), None, Z_SIZE)
    with pytest.raises(InputError, match=r"c has 7 values per image but this model's text embedding has 4928 \(77x64\)"):
        reconstruct.check_features(pipe, None, np.zeros((2, 7), np.float32), Z_SIZE)


@pytest.mark.parametrize("name", ["zc", "zc1.5", "zc0", "x"])
def test_unknown_method(name):
    with pytest.raises(InputError, match="expected z, c or zc<strength>"):
        reconstruct.parse_method(name)


def test_z_features_sample_and_mode(pipe):
    images = np.random.default_rng(0).integers(0, 255, size=(4, 40, 40, 3), dtype=np.uint8)
    ids = np.array([1, 2, 3, 4])
    mode = features.encode_z(pipe, images, ids, Z_SIZE, sample=False, seed=0, batch_size=4)
    sampled = features.encode_z(pipe, images, ids, Z_SIZE, sample=True, seed=0, batch_size=4)
    sampled_in_parts = np.concatenate([features.encode_z(pipe, images[:1], ids[:1], Z_SIZE, True, 0, 1),
                                       features.encode_z(pipe, images[1:], ids[1:], Z_SIZE, True, 0, 2)])
    assert mode.shape == (4, 144) and not np.allclose(mode, sampled)
    assert np.allclose(sampled, sampled_in_parts, atol=1e-5), "posterior samples depend on the image, not the batch"

