"""An attribute classifier for toy images: shape, object colour and background colour.

It scores what a generated image shows, so that the toy model's text conditioning is
measured by numbers rather than by eye. It is trained on the toy generator's own
renders (never on model outputs) and checked on held-out renders.
"""
from __future__ import annotations

import numpy as np
import torch
from torch import nn

from sdbrain.toy import world

HEADS = {"shape": list(world.SHAPES), "colour": list(world.COLOURS), "background": list(world.COLOURS)}


def scenes_and_images(n: int, seed: int, size: int) -> tuple[list[world.Scene], np.ndarray]:
    """``n`` generator scenes (balanced over shapes) and their (n, size, size, 3) uint8 renders."""
    scenes = world.sample_scenes(n, np.random.default_rng(seed))
    return scenes, world.render_all(scenes, size)


def labels(scenes: list[world.Scene]) -> dict[str, np.ndarray]:
    """Return each scene's class index per attribute head (shape, colour, background), as in ``HEADS``."""
    return {head: np.array([names.index(getattr(s, head)) for s in scenes]) for head, names in HEADS.items()}


def to_tensor(images: np.ndarray) -> torch.Tensor:
    """(n, H, W, 3) uint8 -> (n, 3, H, W) float in [-1, 1]."""
    return torch.from_numpy(images).permute(0, 3, 1, 2).float() / 127.5 - 1


class Scorer(nn.Module):
    """A small CNN with one output head per attribute."""

    def __init__(self, size: int = 64):
        super().__init__()
        layers, ch = [], 3
        for out in (32, 64, 96):
            layers += [nn.Conv2d(ch, out, 3, padding=1), nn.ReLU(), nn.Conv2d(out, out, 3, stride=2, padding=1), nn.ReLU()]
            ch = out
        self.body = nn.Sequential(*layers, nn.AdaptiveMaxPool2d(2), nn.Flatten())
        self.heads = nn.ModuleDict({head: nn.Linear(ch * 4, len(names)) for head, names in HEADS.items()})
        self.size = size

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """Return the logits of each head for (n, 3, H, W) images in [-1, 1], resized to ``size`` where needed."""
        if x.shape[-1] != self.size:
            x = nn.functional.interpolate(x, size=(self.size, self.size), mode="bilinear", antialias=True)
        h = self.body(x)
        return {head: layer(h) for head, layer in self.heads.items()}

    @torch.no_grad()
    def predict(self, images: np.ndarray, batch: int = 256) -> dict[str, np.ndarray]:
        """Predicted class index of each attribute for (n, H, W, 3) uint8 images."""
        self.eval()
        out = {head: [] for head in HEADS}
        for start in range(0, len(images), batch):
            logits = self(to_tensor(images[start:start + batch]))
            for head in HEADS:
                out[head].append(logits[head].argmax(1).numpy())
        return {head: np.concatenate(v) for head, v in out.items()}


def train_scorer(n: int, steps: int, seed: int, size: int = 64, log=print) -> Scorer:
    """Train on ``n`` generator renders (with small colour jitter and noise, as generated images have)."""
    torch.manual_seed(seed)
    scenes, images = scenes_and_images(n, seed, size)
    x, y = to_tensor(images), {h: torch.from_numpy(v) for h, v in labels(scenes).items()}
    model = Scorer(size)
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3)
    g = torch.Generator().manual_seed(seed)
    for step in range(steps):
        idx = torch.randint(len(x), (64,), generator=g)
        xb = x[idx] + 0.08 * torch.randn(x[idx].shape, generator=g) + 0.1 * torch.randn(64, 3, 1, 1, generator=g)
        logits = model(xb)
        loss = sum(nn.functional.cross_entropy(logits[h], y[h][idx]) for h in HEADS)
        opt.zero_grad()
        loss.backward()
        opt.step()
        if step % 200 == 0 or step == steps - 1:
            log(f"scorer step {step}: loss {loss.item():.3f}")
    return model.eval()


def named(scenes: list[world.Scene], texts: list[str]) -> dict[str, np.ndarray]:
    """Per attribute, which captions name the scene's value.

    Two of the five phrasings omit the background: an image cannot be expected to show what its caption
    does not say.
    """
    return {head: np.array([getattr(s, head) in t.split() for s, t in zip(scenes, texts)]) for head in HEADS}


def accuracy(scorer: Scorer, images: np.ndarray, scenes: list[world.Scene],
             texts: list[str] | None = None) -> dict[str, float]:
    """Fraction of images whose predicted attribute equals the scene's, per attribute.

    With ``texts``, over the images whose caption names that attribute.
    """
    pred, truth = scorer.predict(images), labels(scenes)
    keep = named(scenes, texts) if texts is not None else {head: np.ones(len(scenes), bool) for head in HEADS}
    return {head: float((pred[head] == truth[head])[keep[head]].mean()) for head in HEADS}


def save(scorer: Scorer, path) -> None:
    """Write a scorer's input size and weights to ``path`` (a torch file)."""
    torch.save({"size": scorer.size, "state_dict": scorer.state_dict()}, path)


def load(path) -> Scorer:
    """Read a scorer that ``save`` wrote, in eval mode."""
    blob = torch.load(path, map_location="cpu", weights_only=True)
    scorer = Scorer(blob["size"])
    scorer.load_state_dict(blob["state_dict"])
    return scorer.eval()
