"""Evaluation networks load strictly from files in their published formats (real key names, random values)."""
import json

import numpy as np
import pytest
import torch
import torchvision

from sdbrain.errors import InputError
from sdbrain.evaluation import networks


def _random_state(module: torch.nn.Module, seed: int) -> dict:
    """The module's state_dict with every floating tensor replaced by seeded random values."""
    g = torch.Generator().manual_seed(seed)
    return {k: (torch.randn(v.shape, generator=g) if v.is_floating_point() else v.clone())
            for k, v in module.state_dict().items()}


def _assert_uses_every_tensor(net: torch.nn.Module, state: dict, rename=lambda k: k):
    loaded = net.state_dict()
    used = [k for k in state if rename(k) in loaded]
    assert used, "nothing loaded"
    for k in used:
        assert torch.equal(loaded[rename(k)], state[k]), k
    return used


@pytest.mark.parametrize("name, build, filename", [
    ("alexnet", lambda: torchvision.models.alexnet(weights=None), "alexnet-owt-7be5be79.pth"),
    ("efficientnet_b1", lambda: torchvision.models.efficientnet_b1(weights=None), "efficientnet_b1-c27df63c.pth"),
    # torchvision's Inception file holds the auxiliary classifier
    ("inception_v3", lambda: torchvision.models.inception_v3(weights=None, aux_logits=True, init_weights=False),
     "inception_v3_google-0cc3c7bd.pth"),
])
def test_torchvision_files_load_every_tensor(tmp_path, name, build, filename):
    state = _random_state(build(), seed=1)
    path = tmp_path / filename
    torch.save(state, path)
    net = networks.build_network(name, str(path), seed=0, clip_config={})
    used = _assert_uses_every_tensor(net, state)
    aux = [k for k in state if k.startswith("AuxLogits.")]
    assert len(used) + len(aux) == len(state), "every tensor but the auxiliary classifier's is in the network"
    if name == "inception_v3":
        assert net.transform_input, "torchvision's Inception weights expect transform_input"
        assert len(aux) == 14 and net.AuxLogits is None  # 12 tensors and two BatchNorm counters


def test_old_files_without_batchnorm_counters_load(tmp_path):
    state = {k: v for k, v in _random_state(torchvision.models.efficientnet_b1(weights=None), 2).items()
             if not k.endswith("num_batches_tracked")}
    torch.save(state, tmp_path / "old.pth")
    net = networks.build_network("efficientnet_b1", str(tmp_path / "old.pth"), seed=0, clip_config={})
    assert len(_assert_uses_every_tensor(net, state)) == len(state)


def _swav_checkpoint() -> dict:
    """swav_800ep_pretrain.pth.tar's layout: DDP ``module.`` prefix, ResNet-50 trunk without fc, SwAV heads."""
    trunk = torchvision.models.resnet50(weights=None)
    trunk.fc = torch.nn.Identity()
    heads = torch.nn.ModuleDict({"projection_head": torch.nn.Sequential(
        torch.nn.Linear(2048, 2048), torch.nn.BatchNorm1d(2048), torch.nn.ReLU(), torch.nn.Linear(2048, 128)),
        "prototypes": torch.nn.Linear(128, 3000, bias=False)})
    state = {**_random_state(trunk, 3), **_random_state(heads, 4)}
    return {f"module.{k}": v for k, v in state.items()}


def test_swav_checkpoint_loads_its_trunk(tmp_path):
    state = _swav_checkpoint()
    path = tmp_path / "swav_800ep_pretrain.pth.tar"
    torch.save(state, path)
    net = networks.build_network("swav_resnet50", str(path), seed=0, clip_config={})
    used = _assert_uses_every_tensor(net, state, rename=lambda k: k.removeprefix("module."))
    heads = [k for k in state if k.removeprefix("module.").startswith(networks.SWAV_HEADS)]
    assert len(heads) == 10 and len(used) + len(heads) == len(state)  # 2 Linear + BatchNorm1d (5) + prototypes
    assert net(torch.zeros(1, 3, 64, 64)).shape == (1, 2048), "the trunk ends at avgpool"


def test_wrong_files_are_refused_with_one_line(tmp_path):
    alex = tmp_path / "alexnet.pth"
    torch.save(_random_state(torchvision.models.alexnet(weights=None), 0), alex)
    with pytest.raises(InputError, match=r"alexnet.pth' do not fit efficientnet_b1: \d+ missing key\(s\) \(first: "
                                         r"features.0.0.weight.*\d+ unexpected key\(s\) \(first: features.0.weight"):
        networks.build_network("efficientnet_b1", str(alex), 0, {})
    # SwAV's file given as a plain ResNet-50 would load nothing with strict=False
    swav = tmp_path / "swav.pth.tar"
    torch.save(_swav_checkpoint(), swav)
    with pytest.raises(InputError, match=r"do not fit alexnet: .*unexpected key\(s\) \(first: module.conv1.weight"):
        networks.build_network("alexnet", str(swav), 0, {})
    resized = {k: (v[:1] if k == "classifier.6.weight" else v)
               for k, v in _random_state(torchvision.models.alexnet(weights=None), 0).items()}
    torch.save(resized, alex)
    with pytest.raises(InputError, match=r"1 tensor\(s\) of another shape \(first: classifier.6.weight\)"):
        networks.build_network("alexnet", str(alex), 0, {})
    (tmp_path / "text.pth").write_text("not a checkpoint")
    with pytest.raises(InputError, match=r"text.pth': not a readable torch checkpoint"):
        networks.build_network("alexnet", str(tmp_path / "text.pth"), 0, {})
    with pytest.raises(InputError, match=r"absent.pth': no such file"):
        networks.build_network("alexnet", str(tmp_path / "absent.pth"), 0, {})


CLIP_SMALL = dict(hidden_size=64, intermediate_size=128, num_hidden_layers=12, num_attention_heads=4, image_size=64,
                  patch_size=16)


def _clip_directory(path, projection_dim=32):
    """openai/clip-vit-large-patch14's layout (a whole CLIPModel: text and vision), at a small width."""
    from transformers import CLIPConfig, CLIPModel
    config = CLIPConfig(text_config=dict(hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                                         num_attention_heads=4, vocab_size=100),
                        vision_config=CLIP_SMALL, projection_dim=projection_dim)
    torch.manual_seed(5)
    model = CLIPModel(config)
    model.save_pretrained(path)
    return model


def test_whole_clip_directory_loads_its_vision_tower(tmp_path):
    whole = _clip_directory(tmp_path / "clip")
    net = networks.build_network("clip", str(tmp_path / "clip"), seed=0, clip_config={})
    reference = {k: v for k, v in whole.state_dict().items() if k.startswith(("vision_model.", "visual_projection."))}
    assert len(_assert_uses_every_tensor(net, reference)) == len(reference) == len(net.state_dict())
    assert json.loads((tmp_path / "clip/config.json").read_text())["model_type"] == "clip"
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        expected = whole.visual_projection(whole.vision_model(pixel_values=x).pooler_output)
        assert torch.allclose(net.eval()(pixel_values=x).image_embeds, expected, atol=1e-5)


def test_clip_directory_without_vision_weights_is_refused(tmp_path):
    from transformers import CLIPTextConfig, CLIPTextModelWithProjection
    text = CLIPTextModelWithProjection(CLIPTextConfig(hidden_size=48, intermediate_size=96, num_hidden_layers=2,
                                                      num_attention_heads=4, vocab_size=100, projection_dim=32))
    text.save_pretrained(tmp_path / "text")
    config = json.loads((tmp_path / "text/config.json").read_text())
    config.update(model_type="clip_vision_model", **CLIP_SMALL)
    (tmp_path / "text/config.json").write_text(json.dumps(config))
    with pytest.raises(InputError, match=r"does not fit CLIPVisionModelWithProjection: \d+ missing key\(s\)"):
        networks.build_network("clip", str(tmp_path / "text"), 0, {})
    with pytest.raises(InputError, match=r"has no config.json"):
        networks.build_network("clip", str(tmp_path), 0, {})


def test_random_networks_without_files_keep_their_layout():
    nets, random = networks.load_networks({}, 0, dict(CLIP_SMALL, projection_dim=32))
    assert random == list(networks.NETWORKS)
    assert not nets["inception_v3"].transform_input and isinstance(nets["swav_resnet50"].fc, torch.nn.Identity)
    x = np.random.default_rng(0).normal(size=(1, 3, 64, 64)).astype(np.float32)
    assert nets["swav_resnet50"](torch.from_numpy(x)).shape == (1, 2048)
