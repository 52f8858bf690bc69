"""The GAN init's networks, features and iCNN (sdbrain.gan): strict loading of the published files' layout, the
released preprocessing and its channel order, the iCNN loss against a direct computation, determinism."""
from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bdpy.dl.torch.models import VGG19, AlexNetGenerator
from scipy.io import savemat

from sdbrain.errors import InputError
from sdbrain.gan import icnn, networks, vgg19
from sdbrain.toy import gan as toy_gan
from sdbrain.toy import world

TOY = dict(seed=0, input_scale=100, image_size=32, widths=[4, 8, 8, 8, 8], fc=32, classes=16, pool=1, components=8)


def write_folders(root, encoder, generator, layer_shapes, image_size=224, arch=None):
    """Both folders as the archives hold them: weights, mean image, feature SDs, the generator's input bound."""
    vgg, gen = root / "VGG_ILSVRC_19_layers", root / "generator" / "act_range" / "3x"
    vgg.mkdir(parents=True), gen.mkdir(parents=True)
    torch.save(encoder.state_dict(), vgg / networks.ENCODER_FILES["weights"])
    np.save(vgg / networks.ENCODER_FILES["mean"], np.stack([np.full((image_size, image_size), m, np.float32)
                                                            for m in (104.0, 117.0, 123.0)]))
    savemat(vgg / networks.ENCODER_FILES["std"], {k: np.full((1, s[0]), 2.0) for k, s in layer_shapes.items()})
    torch.save(generator.state_dict(), root / "generator" / networks.GENERATOR_FILES["weights"])
    np.savetxt(gen / "fc7.txt", np.full((1, generator.defc7.in_features), 5.0))
    if arch:
        (vgg / networks.ARCHITECTURE).write_text(json.dumps(toy_gan.encoder_arch(arch)))
        (root / "generator" / networks.ARCHITECTURE).write_text(json.dumps(toy_gan.generator_arch(arch)))
    return vgg, root / "generator"


@pytest.fixture(scope="module")
def toy_folders(tmp_path_factory):
    torch.manual_seed(1)
    encoder, generator = toy_gan.random_encoder(TOY), networks.linear_generator(**toy_gan.generator_arch(TOY))
    shapes = {k: (8,) for k in networks.LAYERS}
    return write_folders(tmp_path_factory.mktemp("toy_gan"), encoder, generator, shapes, 32, TOY)


def test_bdpy_networks_load_the_published_key_names_strictly(tmp_path):
    # bdpy's classes with random values, saved under the published names: every key and shape must fit
    shapes = {k: (1,) for k in networks.LAYERS}
    vgg, gen = write_folders(tmp_path, VGG19(), AlexNetGenerator(), shapes)
    encoder, generator = networks.load_encoder(vgg), networks.load_generator(gen)
    assert type(encoder.net) is VGG19 and type(generator.net) is AlexNetGenerator
    assert encoder.image_size == 224 and generator.latent_size == 4096
    np.testing.assert_allclose(encoder.mean, [104, 117, 123])
    saved = torch.load(vgg / networks.ENCODER_FILES["weights"], weights_only=True)
    assert all(torch.equal(saved[k], v) for k, v in encoder.net.state_dict().items())
    # a generator file without one tensor is refused with one line naming the file and the key
    state = AlexNetGenerator().state_dict()
    del state["deconv0.weight"]
    torch.save(state, gen / networks.GENERATOR_FILES["weights"])
    with pytest.raises(InputError, match=r"generator_relu7\.pt' does not fit the network: missing deconv0\.weight") as err:
        networks.load_generator(gen)
    assert "\n" not in str(err.value)


def test_a_resized_tensor_or_a_missing_file_is_refused_with_one_line(tmp_path):
    torch.manual_seed(0)
    vgg, gen = write_folders(tmp_path, toy_gan.random_encoder(TOY), networks.linear_generator(**toy_gan.generator_arch(TOY)),
                             {k: (8,) for k in networks.LAYERS}, 32, TOY)
    state = torch.load(vgg / networks.ENCODER_FILES["weights"], weights_only=True)
    state["features.2.weight"] = torch.zeros(5, 4, 3, 3)
    torch.save(state, vgg / networks.ENCODER_FILES["weights"])
    with pytest.raises(InputError, match=r"resized features\.2\.weight \(5, 4, 3, 3\) not \(4, 4, 3, 3\)"):
        networks.load_encoder(vgg)
    (gen / "act_range" / "3x" / "fc7.txt").unlink()
    with pytest.raises(InputError, match=r"no file\(s\) act_range/3x/fc7\.txt"):
        networks.load_generator(gen)


def test_narrow_vgg19_has_bdpy_layout_at_vgg19_widths():
    bdpy = {k: v.shape for k, v in VGG19().state_dict().items()}
    assert {k: v.shape for k, v in networks.narrow_vgg19().state_dict().items()} == bdpy


def test_released_and_caffe_channel_orders(toy_folders):
    encoder = networks.load_encoder(toy_folders[0])
    image = np.random.default_rng(0).integers(0, 256, (1, 32, 32, 3), dtype=np.uint8)
    image[0, 0, 0], image[0, 0, 1] = 0, 255
    mean = encoder.mean
    released = vgg19.preprocess(image, mean, 32, "released").numpy()[0]
    caffe = vgg19.preprocess(image, mean, 32, "caffe").numpy()[0]
    rgb = image[0].transpose(2, 0, 1).astype(np.float32)
    np.testing.assert_array_equal(released, rgb - mean[:, None, None])        # R minus the stored (blue) mean
    np.testing.assert_array_equal(caffe, rgb[::-1] - mean[:, None, None])     # B minus blue's mean
    # a generator image equal to the encoder's input comes back as the RGB picture under either order
    for order, x in (("released", released), ("caffe", caffe)):
        back = icnn.to_image(x, mean, icnn.Settings(clip_percent=0, channel_order=order))
        np.testing.assert_array_equal(back, image[0])
    with pytest.raises(InputError, match="channel_order"):
        vgg19.preprocess(image, mean, 32, "bgr")


def test_features_are_the_pre_activation_outputs(toy_folders):
    encoder = networks.load_encoder(toy_folders[0])
    images = world.render_all(world.sample_scenes(3, np.random.default_rng(2)), 40)
    got = vgg19.features(encoder, images)
    x = vgg19.preprocess(images, encoder.mean, 32)
    with torch.no_grad():
        conv1_2 = encoder.net.features[:3](x)                                   # conv, ReLU, conv: before the ReLU
        fc8 = encoder.net(x)
    np.testing.assert_allclose(got["conv1_2"], conv1_2.flatten(1).numpy(), rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(got["fc8"], fc8.numpy(), rtol=1e-5, atol=1e-4)
    assert got["conv1_2"].min() < 0                                             # not rectified
    assert {k: v.shape[1] for k, v in got.items()} == {k: int(np.prod(s)) for k, s in vgg19.shapes(encoder).items()}


def direct_targets(decoded, shapes, reference):
    """The released renormalisation written out: (f - mean) / mean channel SD * mean reference SD + mean."""
    out = {}
    for layer, f in decoded.items():
        f = f.astype(np.float64).reshape(shapes[layer])
        sd = f.reshape(f.shape[0], -1).std(axis=1, ddof=1).mean() if f.ndim == 3 else f.std(ddof=1)
        out[layer] = (f - f.mean()) / sd * np.mean(reference[layer]) + f.mean()
    return out


def test_one_icnn_step_has_the_weighted_normalised_feature_error(toy_folders):
    encoder, generator = networks.load_encoder(toy_folders[0]), networks.load_generator(toy_folders[1])
    rng = np.random.default_rng(3)
    shapes = vgg19.shapes(encoder)
    decoded = {k: rng.normal(1.0, 3.0, int(np.prod(s))).astype(np.float32) for k, s in shapes.items()}
    _, history = icnn.reconstruct(encoder, generator, decoded, nsd_id=7, seed=0, settings=icnn.Settings(n_iter=1))
    goal = direct_targets(decoded, shapes, encoder.feature_std)
    weights = np.array([1 / np.sum(t ** 2) for t in goal.values()])
    weights /= weights.sum()
    with torch.no_grad():   # the start image, cropped to the encoder's size in the centre, through the layers by hand
        image = generator.net(torch.from_numpy(icnn.initial_latent(0, 7, generator.latent_size))[None])
        top = (image.shape[-1] - 32) // 2
        x = image[:, :, top:top + 32, top:top + 32]
        conv = {"conv1_2": 2, "conv2_2": 7, "conv3_4": 16, "conv4_4": 25, "conv5_4": 34}
        acts = {k: encoder.net.features[:i + 1](x) for k, i in conv.items()}
        flat = torch.flatten(encoder.net.avgpool(encoder.net.features(x)), 1)
        acts["fc6"] = encoder.net.classifier[:1](flat)
        acts["fc7"] = encoder.net.classifier[:4](flat)
        acts["fc8"] = encoder.net.classifier(flat)
    direct = sum(w * np.sum((acts[k].double().numpy()[0] - goal[k]) ** 2) for w, k in zip(weights, goal))
    assert history[0] == pytest.approx(direct, rel=1e-4)


def test_icnn_is_deterministic_for_a_seed(toy_folders):
    encoder, generator = networks.load_encoder(toy_folders[0]), networks.load_generator(toy_folders[1])
    images = world.render_all(world.sample_scenes(1, np.random.default_rng(4)), 32)
    decoded = {k: v[0] for k, v in vgg19.features(encoder, images).items()}
    settings = icnn.Settings(n_iter=5)
    first, loss_a = icnn.reconstruct(encoder, generator, decoded, 11, 0, settings)
    again, loss_b = icnn.reconstruct(encoder, generator, decoded, 11, 0, settings)   # the same networks, reused
    other, _ = icnn.reconstruct(encoder, generator, decoded, 11, 1, settings)
    assert first.shape == (32, 32, 3) and first.dtype == np.uint8
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(loss_a, loss_b)
    assert not np.array_equal(first, other)
    assert loss_a[-1] < loss_a[0]


def test_the_shipped_toy_networks_recover_colour_and_layout_from_true_features():
    """resources/toy_gan as rule train_toy_gan made it (config toy.gan), and what its iCNN recovers: from the true
    features of unseen scenes, the picture correlates with the scene and its border has the scene's background."""
    import yaml

    from conftest import ROOT
    folder = ROOT / "resources/toy_gan"
    record = json.loads((folder / "training.json").read_text())
    assert record["params"] == yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["gan"]
    encoder = networks.load_encoder(folder / "VGG_ILSVRC_19_layers")
    generator = networks.load_generator(folder / "generator_relu7")
    scenes = world.sample_scenes(6, np.random.default_rng(99))
    images = world.render_all(scenes, 64)
    features = vgg19.features(encoder, images)
    palette = {name: np.array(rgb, float) for name, rgb in world.COLOURS.items()}
    r, background = [], []
    for i, scene in enumerate(scenes):
        picture, _ = icnn.reconstruct(encoder, generator, {k: v[i] for k, v in features.items()}, i, 0)
        r.append(np.corrcoef(picture.ravel().astype(float), images[i].ravel().astype(float))[0, 1])
        edge = np.concatenate([picture[:4].reshape(-1, 3), picture[-4:].reshape(-1, 3)]).mean(0)
        background.append(min(palette, key=lambda c: np.sum((palette[c] - edge) ** 2)) == scene.background)
    print("pixel r", np.round(r, 2), "background", background)
    assert np.mean(r) > 0.6 and np.mean(background) >= 4 / 6
