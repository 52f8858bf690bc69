"""Evaluation networks, loaded strictly from the files their authors publish.

- AlexNet, Inception v3, EfficientNet-B1: torchvision state_dict files
  (``alexnet-owt-7be5be79.pth``, ``inception_v3_google-0cc3c7bd.pth``,
  ``efficientnet_b1-c27df63c.pth`` or ``efficientnet_b1_rwightman-bac287d4.pth``).
  Inception is built as torchvision builds it for its weights: with the auxiliary
  classifier (its keys are in the file; it is dropped after loading) and
  ``transform_input=True``, which maps ImageNet-normalised input to the [-1, 1]
  scaling the Google weights were trained on.
- SwAV ResNet-50: ``swav_800ep_pretrain.pth.tar``, a state_dict saved from
  DistributedDataParallel (every key prefixed ``module.``) that also holds SwAV's
  training heads (``SWAV_HEADS``); only the trunk is kept, as SwAV's own torch.hub
  entry does, and the classifier ``fc`` (absent from the file) is removed.
- CLIP ViT-L/14: a Hugging Face directory (``openai/clip-vit-large-patch14``: the whole
  CLIP model, of which the vision tower and its projection are loaded).

A file that does not fill the network exactly (a missing key, an unexpected one, a
shape that differs) is refused with one line naming the file and the first keys:
torch's ``strict=False`` would leave the network random and the tables would call it
pretrained. Without a file, a network gets seeded random weights (the toy world), and
the caller says so.
"""
from __future__ import annotations

import json
from pathlib import Path

import torch

from sdbrain.errors import InputError

NETWORKS = ("alexnet", "inception_v3", "clip", "efficientnet_b1", "swav_resnet50")
SWAV_HEADS = ("projection_head.", "prototypes.")  # SwAV's projection MLP and prototypes: training only
CLIP_TEXT = ("text_model.", "text_projection.", "logit_scale")  # the text half of a whole CLIP checkpoint


def load_networks(weights: dict, seed: int, clip_config: dict) -> tuple[dict, list[str]]:
    """Every evaluation network, and the names of those with seeded random weights."""
    random = [name for name in NETWORKS if not weights.get(name)]
    return {name: load_network(name, weights, seed, clip_config) for name in NETWORKS}, random


def load_network(name: str, weights: dict, seed: int, clip_config: dict):
    """One evaluation network as ``load_networks`` builds it (its random weights seeded by its place in NETWORKS)."""
    return build_network(name, weights.get(name), seed + NETWORKS.index(name), clip_config)


def build_network(name: str, weights: str | None, seed: int, clip_config: dict):
    """Build a network in eval mode.

    Its weights are its published weight file's or (labelled by the caller) seeded random weights.
    """
    torch.manual_seed(seed)
    if name == "clip":
        return (load_clip(weights) if weights else _random_clip(clip_config)).eval()
    net = _torchvision(name, pretrained=bool(weights))
    if weights:
        state = read_state_dict(weights)
        if name == "swav_resnet50":
            state = swav_trunk(state)
        load_strict(net, state, weights, name)
    if name == "inception_v3" and weights:
        net.aux_logits, net.AuxLogits = False, None  # loaded from the file, unused for features
    return net.eval()


def _torchvision(name: str, pretrained: bool):
    import torchvision
    if name == "alexnet":
        return torchvision.models.alexnet(weights=None)
    if name == "inception_v3":
        if pretrained:  # the layout of torchvision's own file, and the input transform its weights expect
            return torchvision.models.inception_v3(weights=None, aux_logits=True, transform_input=True, init_weights=False)
        return torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True)
    if name == "efficientnet_b1":
        return torchvision.models.efficientnet_b1(weights=None)
    if name == "swav_resnet50":
        net = torchvision.models.resnet50(weights=None)
        net.fc = torch.nn.Identity()  # SwAV publishes the trunk; features are taken at avgpool
        return net
    raise InputError(f"evaluation network '{name}': expected one of {', '.join(NETWORKS)}")


def read_state_dict(path: str | Path) -> dict:
    """Read the tensors of a torch checkpoint file (a state_dict, or a dict holding one under 'state_dict')."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"evaluation weights '{path}': no such file")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as error:  # noqa: BLE001 -- any unreadable file gets the same one-line answer
        raise InputError(f"evaluation weights '{path}': not a readable torch checkpoint ({type(error).__name__})") from None
    if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise InputError(f"evaluation weights '{path}': not a state_dict of tensors")
    return dict(state)


def swav_trunk(state: dict) -> dict:
    """SwAV's checkpoint as a ResNet-50 trunk: ``module.`` prefixes stripped, the training heads dropped."""
    stripped = {k.removeprefix("module."): v for k, v in state.items()}
    return {k: v for k, v in stripped.items() if not k.startswith(SWAV_HEADS)}


def load_strict(net: torch.nn.Module, state: dict, path, name: str) -> None:
    """Load every tensor of ``state`` into ``net`` or refuse the file.

    Only BatchNorm's ``num_batches_tracked`` counters may be absent (files saved before
    PyTorch 0.4.1 lack them; they play no part in evaluation).
    """
    expected = net.state_dict()
    missing = [k for k in expected if k not in state and not k.endswith("num_batches_tracked")]
    unexpected = [k for k in state if k not in expected]
    wrong = [k for k in state if k in expected and tuple(state[k].shape) != tuple(expected[k].shape)]
    problems = _problems(missing, unexpected, wrong)
    if problems:
        raise InputError(f"evaluation weights '{path}' do not fit {name}: {problems}")
    net.load_state_dict(state, strict=False)


def _problems(missing, unexpected, wrong) -> str:
    """'N missing key(s) (first: ...); ...' for a file that does not fit a network, or ''."""
    return "; ".join(f"{len(keys)} {what} (first: {', '.join(map(str, keys[:3]))})"
                     for keys, what in ((missing, "missing key(s)"), (unexpected, "unexpected key(s)"),
                                        (wrong, "tensor(s) of another shape")) if keys)


def _random_clip(clip_config: dict):
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    return CLIPVisionModelWithProjection(CLIPVisionConfig(**clip_config))


def load_clip(directory: str | Path):
    """Load the vision tower and projection of a CLIP directory (a whole CLIP model or a vision-only one)."""
    from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
    directory = Path(directory)
    config_file = directory / "config.json"
    if not config_file.is_file():
        raise InputError(f"evaluation weights 'clip': '{directory}' has no config.json (a Hugging Face CLIP directory "
                         "such as openai/clip-vit-large-patch14 is expected)")
    raw = json.loads(config_file.read_text())
    if raw.get("model_type") == "clip":  # the whole model: its projection width is the top-level one
        vision = dict(raw.get("vision_config") or {})
        vision["projection_dim"] = raw.get("projection_dim", vision.get("projection_dim", 512))
        raw = vision
    raw.pop("model_type", None)
    config = CLIPVisionConfig(**{k: v for k, v in raw.items() if not k.startswith("_")})
    try:
        model, info = CLIPVisionModelWithProjection.from_pretrained(directory, config=config, local_files_only=True,
                                                                    output_loading_info=True)
    except OSError as error:
        raise InputError(f"evaluation weights 'clip': '{directory}': {str(error).splitlines()[0]}") from None
    missing = list(info.get("missing_keys", []))
    unexpected = [k for k in info.get("unexpected_keys", []) if not k.startswith(CLIP_TEXT)]
    wrong = [k if isinstance(k, str) else k[0] for k in info.get("mismatched_keys", [])]
    problems = _problems(sorted(missing), sorted(unexpected), sorted(wrong))
    if problems:
        raise InputError(f"evaluation weights 'clip': '{directory}' does not fit CLIPVisionModelWithProjection: "
                         f"{problems}")
    return model
