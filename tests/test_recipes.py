"""Metric recipes: each one's networks, layers, input sizes and resizing, PixCorr and SSIM, against the libraries
the groups' own code calls (torchvision transforms, CLIPImageProcessor, scikit-image)."""
import numpy as np
import pytest
import torch
from PIL import Image
from torchvision import transforms

from sdbrain.errors import ArgumentError
from sdbrain.evaluation import evaluate
from sdbrain.evaluation import recipes as rc

CLIP = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=12, num_attention_heads=4, image_size=224,
            patch_size=14, projection_dim=32)
TOKENS = (224 // 14) ** 2 + 1

# recipe -> metric -> (network input size, feature length)
EXPECTED = {
    "takagi": {"alexnet.features.5": (299, 192 * 17 * 17), "alexnet.features.12": (299, 256 * 8 * 8),
               "alexnet.classifier.5": (299, 4096), "inception_v3.flatten": (299, 2048), "clip.embeds": (224, 32),
               "clip.hidden6": (224, TOKENS * 64), "clip.hidden12": (224, TOKENS * 64)},
    "mindeye": {"Alex2": (256, 192 * 31 * 31), "Alex5": (256, 256 * 15 * 15), "Incep": (342, 2048),
                "CLIP": (224, 32), "Eff": (255, 1280), "SwAV": (224, 2048)},
    "braindiffuser": {"Alex2": (224, 192 * 27 * 27), "Alex5": (224, 256 * 13 * 13), "Incep": (224, 2048),
                      "CLIP": (224, 32), "Eff": (224, 1280), "SwAV": (224, 2048)},
}


@pytest.fixture(scope="module")
def networks():
    nets, _ = evaluate.load_networks({}, 0, CLIP)
    return nets


def test_each_recipe_sizes_and_layers(networks):
    images = np.random.default_rng(0).integers(0, 255, size=(2, 64, 64, 3), dtype=np.uint8)
    recipes = rc.selected(["takagi", "mindeye", "braindiffuser"])
    features = evaluate.extract(images, networks, recipes, batch_size=2)
    assert set(features) == {f"{r}.{m}" for r, metrics in EXPECTED.items() for m in metrics}
    for recipe in recipes:
        for feature in recipe.features:
            size, length = EXPECTED[recipe.name][feature.metric]
            assert rc.prepare(images, feature, recipe).shape == (2, 3, size, size), (recipe.name, feature.metric)
            assert features[evaluate.feature_key(recipe, feature)].shape == (2, length), (recipe.name, feature.metric)
    assert {f.node for f in rc.RECIPES["mindeye"].features} == {"features.4", "features.11", "avgpool", "embeds"}
    assert rc.RECIPES["mindeye"].base_size == 256 and rc.RECIPES["braindiffuser"].base_size is None
    with pytest.raises(ArgumentError, match=r"^argument 'recipes': unknown recipe\(s\) \['minedye'\]") as err:
        rc.selected(["minedye"])
    assert err.value.argument == "recipes"


def test_channels_last_features_equal_the_plain_forward(networks):
    """extract runs the convolutional networks channels-last: the same flattened values (order and
    size) as torchvision's feature extractor on ordinary tensors, up to float32 rounding."""
    from torchvision.models.feature_extraction import create_feature_extractor
    images = np.random.default_rng(5).integers(0, 255, size=(3, 64, 64, 3), dtype=np.uint8)
    recipe = rc.RECIPES["mindeye"]
    features = evaluate.extract(images, networks, [recipe], batch_size=2)
    for metric in ("Alex2", "Eff"):
        feature = recipe.feature(metric)
        plain = create_feature_extractor(networks[feature.network], return_nodes=[feature.node])
        with torch.no_grad():
            x = rc.prepare(images, feature, recipe).contiguous()
            expected = plain(x)[feature.node].flatten(1).numpy()
        got = features[evaluate.feature_key(recipe, feature)]
        assert got.shape == expected.shape
        assert np.abs(got - expected).max() <= 1e-5 * np.abs(expected).max(), metric


def _normalise(x, network="alexnet"):
    mean, std = rc.CLIP if network == "clip" else rc.IMAGENET
    return transforms.Normalize(mean, std)(x)


@pytest.mark.parametrize("shape", [(425, 425), (300, 420)])
def test_takagi_resizing_is_torchvisions(shape):
    """Takagi's code: transforms.Resize(299) and CenterCrop(299) on PIL images (bilinear)."""
    image = np.random.default_rng(1).integers(0, 255, size=shape + (3,), dtype=np.uint8)
    feature = rc.RECIPES["takagi"].feature("alexnet.features.5")
    expected = _normalise(transforms.Compose([transforms.Resize(299), transforms.CenterCrop(299), transforms.ToTensor()])(
        Image.fromarray(image)))
    assert torch.allclose(rc.prepare(image[None], feature, rc.RECIPES["takagi"])[0], expected, atol=1e-5)


def test_takagi_clip_input_is_clip_processors():
    from transformers import CLIPImageProcessor
    image = np.random.default_rng(2).integers(0, 255, size=(425, 425, 3), dtype=np.uint8)
    processor = CLIPImageProcessor(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224})
    expected = torch.from_numpy(np.asarray(processor(images=Image.fromarray(image), return_tensors="np")["pixel_values"][0]))
    ours = rc.prepare(image[None], rc.RECIPES["takagi"].feature("clip.embeds"), rc.RECIPES["takagi"])[0]
    assert (ours - expected).abs().max() < 0.02, "within one 8-bit level of rounding, normalised"


def test_mindeye_resizing_is_torchvisions_tensor_resize():
    """MindEye2: images to 256, then transforms.Resize(N, BILINEAR) on float tensors (no antialiasing), no crop."""
    image = np.random.default_rng(3).integers(0, 255, size=(425, 425, 3), dtype=np.uint8)
    recipe = rc.RECIPES["mindeye"]
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255
    at_256 = transforms.Resize((256, 256), antialias=False)(x)
    for metric, size in (("Incep", 342), ("Eff", 255), ("CLIP", 224), ("Alex2", 256)):
        feature = recipe.feature(metric)
        expected = _normalise(transforms.Resize(size, antialias=False)(at_256), feature.network)
        assert torch.allclose(rc.prepare(image[None], feature, recipe), expected, atol=1e-5), metric


def test_braindiffuser_resizing_is_pil_bilinear_to_224():
    image = np.random.default_rng(4).integers(0, 255, size=(425, 425, 3), dtype=np.uint8)
    recipe = rc.RECIPES["braindiffuser"]
    expected = _normalise(transforms.ToTensor()(transforms.functional.resize(Image.fromarray(image), (224, 224))))
    assert torch.allclose(rc.prepare(image[None], recipe.feature("Eff"), recipe)[0], expected, atol=1e-5)


def test_ssim_and_pixcorr_equal_scikit_image_and_numpy_on_random_pairs():
    from skimage.color import rgb2gray
    from skimage.metrics import structural_similarity
    rng = np.random.default_rng(5)
    for _ in range(3):
        original = rng.integers(0, 255, size=(425, 425, 3), dtype=np.uint8)
        samples = np.clip(original[None] + rng.normal(0, 40, size=(2, 512, 512, 3))[:, :425, :425], 0, 255).astype(np.uint8)
        samples = np.stack([np.asarray(Image.fromarray(s).resize((512, 512))) for s in samples])
        # MindEye2: both to 256 then 425 by tensor bilinear; SSIM of rgb2gray with the published arguments
        to = lambda im, s: transforms.Resize((s, s), antialias=False)(torch.from_numpy(im).permute(2, 0, 1)[None].float() / 255)  # noqa: E731
        o = to(original, 256)
        o = transforms.Resize((425, 425), antialias=False)(o)[0].permute(1, 2, 0).double().numpy()
        pix, ss = [], []
        for s in samples:
            r = transforms.Resize((425, 425), antialias=False)(to(s, 256))[0].permute(1, 2, 0).double().numpy()
            pix.append(np.corrcoef(o.transpose(2, 0, 1).ravel(), r.transpose(2, 0, 1).ravel())[0, 1])
            ss.append(structural_similarity(rgb2gray(r), rgb2gray(o), gaussian_weights=True, sigma=1.5,
                                            use_sample_covariance=False, data_range=1.0))
        ours = evaluate.low_level_scores(original, samples, rc.RECIPES["mindeye"])
        assert ours == pytest.approx((np.mean(pix), np.mean(ss)), abs=1e-6)
        # Brain-Diffuser: the reconstruction by PIL bicubic to 425, the original as it is
        o = original / 255.0
        pix, ss = [], []
        for s in samples:
            r = np.asarray(Image.fromarray(s).resize((425, 425), Image.BICUBIC)) / 255.0
            pix.append(np.corrcoef(o.reshape(1, -1), r.reshape(1, -1))[0, 1])
            ss.append(structural_similarity(rgb2gray(r), rgb2gray(o), gaussian_weights=True, sigma=1.5,
                                            use_sample_covariance=False, data_range=1.0))
        ours = evaluate.low_level_scores(original, samples, rc.RECIPES["braindiffuser"])
        assert ours == pytest.approx((np.mean(pix), np.mean(ss)), abs=1e-6)


def test_identical_images_score_perfectly():
    image = np.random.default_rng(6).integers(0, 255, size=(425, 425, 3), dtype=np.uint8)
    for name in ("mindeye", "braindiffuser"):
        pix, ss = evaluate.low_level_scores(image, image[None], rc.RECIPES[name])
        assert pix == pytest.approx(1.0) and ss == pytest.approx(1.0)


def test_score_names_each_recipe(networks):
    rng = np.random.default_rng(7)
    originals = rng.integers(0, 255, size=(4, 64, 64, 3), dtype=np.uint8)
    recon = rng.integers(0, 255, size=(4, 2, 64, 64, 3), dtype=np.uint8)
    recipes = rc.selected(["takagi", "braindiffuser"])
    scores = evaluate.score(originals, evaluate.extract(originals, networks, recipes, 4), recon,
                         evaluate.extract_samples(recon, networks, recipes, 4), [1, 2, 3, 4], recipes)
    per_recipe = scores.groupby("protocol")["metric"].unique()
    assert list(per_recipe["takagi"]) == list(EXPECTED["takagi"])
    assert list(per_recipe["braindiffuser"]) == [*EXPECTED["braindiffuser"], "PixCorr", "SSIM"]
    assert len(scores) == 4 * (7 + 8)
