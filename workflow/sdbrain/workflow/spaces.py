"""The grammar of the workflow's names: reconstruction methods, noise levels and feature spaces.

The feature spaces are the encoding models'; what a config asks for is ``sdbrain.workflow.plan``.

Reconstruction methods:
    z, c                     from the decoded z only or c only
    zc<s>                    image-to-image from z with c at strength s (e.g. zc0.8)
    text                     image-to-image from z with the decoded caption's c (text.strength; docs/text.md)
    gan                      the iCNN image from the decoded VGG19 features (gan.enabled; docs/gan.md)
    gan_text                 image-to-image from the gan image with the decoded caption's c (gan.strength)

Feature spaces:
    z, c                     the image latent and the caption embedding
    zc<s>                    the final z_c at noise level s (e.g. zc0.5)
    zc<s>-<step>             z_c after the early, middle or late denoising step (Fig. 8)
    unet<s>-<layer>-<step>   a U-Net layer's activations at that step (Fig. 9)
    z+<space>                the joint model of z and another space (unique variance, Figs. 7-8)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from sdbrain.errors import InputError

# Snakemake wildcard constraints: one space (a joint model is "z+" and one of these), a
# method, a noise level (a diffusion feature folder)
PATTERN = r"z|c|zc[0-9.]+(-[a-z]+)?|unet[0-9.]+-[a-z0-9]+-[a-z]+"
METHOD_PATTERN = r"z|c|zc[0-9.]+|text|gan_text"   # rule reconstruct's (gan has its own rule, icnn)
ANY_METHOD_PATTERN = METHOD_PATTERN + "|gan"       # every method's (the manifests)
LEVEL_PATTERN = r"[0-9.]+"
_PARSE = re.compile(r"^(?P<kind>z|c|zc|unet)(?P<level>[0-9.]*)(-(?P<layer>[a-z0-9]+))??(-(?P<step>[a-z]+))?$")


@dataclass(frozen=True)
class Space:
    """A feature space's name parsed (``parse``): its kind, noise level, U-Net layer and denoising step."""

    name: str
    kind: str                 # z, c, zc or unet
    level: float | None = None
    layer: str | None = None
    step: str | None = None
    level_text: str | None = None  # the level as written in the name (its diffusion features' folder)

    @property
    def feature(self) -> str:
        """The key of this space in ``diffusion.extract``'s result (zc, zc-early, unet-mid-early)."""
        return "-".join(part for part in (self.kind, self.layer, self.step) if part)


def level_name(level: float) -> str:
    """Write a noise level or strength as names write it: 0.5 -> '0.5', 1.0 -> '1'."""
    return f"{level:g}"


def method(strength: float) -> str:
    """Name the image-to-image method at ``strength``: 0.8 -> 'zc0.8'."""
    return f"zc{level_name(strength)}"


def methods(strengths, text: bool = False, gan: bool = False) -> list[str]:
    """Every reconstruction method: z, c, one zc per strength, the decoded inputs' methods that are enabled.

    ``text``: the decoded-caption method; ``gan``: the iCNN image and, with ``text`` too, SD from it with the caption.
    """
    return ["z", "c"] + [method(s) for s in strengths] + decoded_input_methods(text, gan)


def decoded_input_methods(text: bool, gan: bool) -> list[str]:
    """Return the technical report's methods that are enabled: text; gan; gan_text (needs both)."""
    return (["text"] if text else []) + (["gan"] if gan else []) + (["gan_text"] if gan and text else [])


def parse_method(name: str) -> tuple[str, float | None]:
    """Parse a method into its kind and strength: 'z' -> ('z', None), 'c' -> ('c', None), 'zc0.8' -> ('zc', 0.8).

    'text', 'gan', 'gan_text' -> (name, None): their strengths are config's (text.strength, gan.strength).
    """
    if name in ("z", "c", "text", "gan", "gan_text"):
        return name, None
    if name.startswith("zc"):
        try:
            strength = float(name[2:])
        except ValueError:
            strength = -1.0
        if 0 < strength <= 1:
            return "zc", strength
    raise InputError(f"reconstruction method '{name}': expected z, c, text, gan, gan_text or zc<strength> with strength in (0, 1]")


def parse(name: str) -> Space:
    """'unet0.5-mid-early' -> Space(kind='unet', level=0.5, layer='mid', step='early')."""
    match = _PARSE.match(name)
    ok = match is not None
    if ok:
        kind, level, layer, step = match["kind"], match["level"], match["layer"], match["step"]
        if kind in ("z", "c"):
            ok = not (level or layer or step)
        else:
            ok = bool(level) and (layer is not None) == (kind == "unet") and (step is not None or kind == "zc")
        if ok:
            try:
                value = float(level) if level else None
            except ValueError:
                value = -1.0
            ok = value is None or 0 < value <= 1
    if not ok:
        raise InputError(f"feature space '{name}': expected z, c, zc<s>, zc<s>-<step> or unet<s>-<layer>-<step> "
                         "with a noise level s in (0, 1]")
    return Space(name, kind, value, layer, step, level or None)


def name(feature: str, level: float | str) -> str:
    """Name the space of ``diffusion.extract``'s ``feature`` at noise ``level``.

    ('unet-mid-early', 0.5) -> 'unet0.5-mid-early'. A level given as text is kept as written: a wildcard's
    value, or '{level}' for a rule's pattern.
    """
    kind, _, rest = feature.partition("-")
    return f"{kind}{level if isinstance(level, str) else level_name(level)}" + (f"-{rest}" if rest else "")
