"""Names of the encoding models' feature spaces, and the set of models a config asks for.

    z, c                     the image latent and the caption embedding
    zc<s>                    the final z_c at noise level s (e.g. zc0.5)
    zc<s>-<step>             z_c after the early, middle or late denoising step (Fig. 8)
    unet<s>-<layer>-<step>   a U-Net layer's activations at that step (Fig. 9)
    z+<space>                the joint model of z and another space (unique variance, Figs. 7-8)
"""
from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InputError

# one space (Snakemake wildcard constraint); a joint model is "z+" and one of these
PATTERN = r"z|c|zc[0-9.]+(-[a-z]+)?|unet[0-9.]+-[a-z0-9]+-[a-z]+"
_PARSE = re.compile(r"^(?P<kind>z|c|zc|unet)(?P<level>[0-9.]*)(-(?P<layer>[a-z0-9]+))??(-(?P<step>[a-z]+))?$")


@dataclass(frozen=True)
class Space:
    name: str
    kind: str                 # z, c, zc or unet
    level: float | None = None
    layer: str | None = None
    step: str | None = None

    @property
    def feature(self) -> str:
        """The key of this space in ``diffusion.extract``'s result (zc, zc-early, unet-mid-early)."""
        return "-".join(part for part in (self.kind, self.layer, self.step) if part)


def level_name(level: float) -> str:
    return f"{level:g}"


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
    return Space(name, kind, value, layer, step)


def name(feature: str, level: float) -> str:
    """The space of ``diffusion.extract``'s ``feature`` at noise ``level``: ('unet-mid-early', 0.5) -> 'unet0.5-mid-early'."""
    kind, _, rest = feature.partition("-")
    return f"{kind}{level_name(level)}" + (f"-{rest}" if rest else "")


@dataclass
class Plan:
    single: list[str]                       # one model per space
    joint: list[str]                        # spaces modelled jointly with z
    layer_groups: dict[str, list[str]]      # unet<s>-<step> -> its layers' spaces (best layer per voxel)
    captured_levels: list[float]            # noise levels whose steps and U-Net layers are captured


def plan(encode: dict, steps, layers) -> Plan:
    """Every encoding model of the config: Figs. 6-7 at ``noise_levels``, Figs. 8-9 at ``step_levels``."""
    noise, captured = encode["noise_levels"], encode["step_levels"]
    single = ["z", "c"] + [f"zc{level_name(s)}" for s in noise]
    joint = [f"zc{level_name(s)}" for s in noise]
    groups = {}
    for s in captured:
        at_steps = [f"zc{level_name(s)}-{step}" for step in steps]
        single += [x for x in at_steps if x not in single]
        joint += [x for x in at_steps if x not in joint]
        for step in steps:
            group = [f"unet{level_name(s)}-{layer}-{step}" for layer in layers]
            groups[f"unet{level_name(s)}-{step}"] = group
            single += group
    return Plan(single, joint, groups, sorted(float(s) for s in captured))
