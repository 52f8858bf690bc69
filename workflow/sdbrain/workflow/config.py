"""Config validation: the JSON schema with defaults filled in, and the checks that need no data, at parse time.

Every error is one line naming the config key. Where a setting can only be judged against data (a memory budget
against the design's size, a U-Net module against the model), the method layer names its argument and
``job.run`` names the key.
"""
from __future__ import annotations

import copy
from pathlib import Path

import jsonschema
import yaml

from sdbrain.errors import InputError
from sdbrain.workflow import plan


def _fill_defaults(node: dict, schema: dict) -> None:
    for key, sub in schema.get("properties", {}).items():
        if key not in node and "default" in sub:
            node[key] = copy.deepcopy(sub["default"])
        if isinstance(node.get(key), dict):
            _fill_defaults(node[key], sub)


def _key_path(error: jsonschema.ValidationError) -> str:
    path = ""
    for part in error.absolute_path:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def validate_config(config: dict, schema_path: str | Path) -> dict:
    """Fill defaults into ``config`` in place; raise InputError naming the first bad key."""
    schema = yaml.safe_load(Path(schema_path).read_text())
    _fill_defaults(config, schema)
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        error = errors[0]
        key = _key_path(error)
        where = f"config key '{key}'" if key else "config"
        raise InputError(f"{where}: {error.message}")
    encode = config.get("encode", {})
    if encode.get("joint_maps") == "banded" and encode.get("joint") != "banded":
        # the figures would pull in banded jobs that encode.joint says not to run
        raise InputError("config key 'encode.joint_maps': banded maps need encode.joint: banded")
    if config.get("toy", {}).get("enabled") and "{subject}" in config.get("flatmaps", {}).get("pycortex_subject", ""):
        # the toy world is generated on one pycortex subject's grid and drawn on the same subject
        raise InputError("config key 'flatmaps.pycortex_subject': the toy world needs one pycortex subject "
                         "(e.g. S1 with xfm fullhead), not one per subject")
    check_denoising_steps(config)
    return config


def check_denoising_steps(config: dict) -> None:
    """Check that every image-to-image strength leaves a denoising step: int(reconstruct.steps x s) >= 1.

    This holds for the strengths of the reconstructions and the noise levels of the diffusion features
    (which run the same image-to-image settings).
    """
    steps = config["reconstruct"]["steps"]
    for key, levels in (("reconstruct.strengths", config["reconstruct"]["strengths"]),
                        ("encode.noise_levels", config["encode"]["noise_levels"]),
                        ("encode.step_levels", config["encode"]["step_levels"]),
                        ("text.strength", [plan.text_strength(config)] if config["text"]["enabled"] else []),
                        ("gan.strength", [plan.gan_strength(config)] if "gan_text" in plan.methods(config) else [])):
        for s in levels:
            if int(steps * s) < 1:
                raise InputError(f"config key '{key}': strength {s:g} with {steps} steps (reconstruct.steps) leaves "
                                 "no denoising step (steps x strength must be at least 1)")


def locate_shipped_model(config: dict, workflow_dir: str | Path) -> None:
    """Read a relative model folder (``model_dir``, ``text.captioner_dir``, ``gan.*_dir``) from the workflow's folder.

    That is, where the working folder has none.

    The shipped toy models (``resources/toy_sd``, ``resources/toy_blip``) live in the workflow's folder. A lab that
    uses the workflow as a Snakemake module runs it in its own folder, which holds its config and results but not
    the workflow's resources. A folder that the working directory has, an absolute one, and the toy model that the
    workflow builds itself (``paths.TOY_RANDOM_MODEL``) are left as they are.
    """
    for section, key in ((config, "model_dir"), (config["text"], "captioner_dir"), (config["gan"], "encoder_dir"),
                         (config["gan"], "generator_dir")):
        folder = Path(section[key])
        if folder.is_absolute() or folder.exists() or (key == "model_dir" and plan.builds_model(config)):
            continue
        shipped = Path(workflow_dir) / folder
        if shipped.is_dir():
            section[key] = str(shipped)


def check_data_paths(config: dict) -> None:
    """Check that ``nsd_root``, ``model_dir`` and the enabled methods' model folders are existing folders.

    Outside the toy world, which builds or ships them.

    This runs before anything is planned: a dry run with a wrong path stops here, with one line.
    """
    if config["toy"]["enabled"]:
        return
    folders = {key: config[key] for key in ("nsd_root", "model_dir")}
    if config.get("text", {}).get("enabled"):
        folders["text.captioner_dir"] = config["text"]["captioner_dir"]
    if plan.gan_enabled(config):
        folders.update({f"gan.{key}": config["gan"][key] for key in ("encoder_dir", "generator_dir")})
    missing = [key for key, folder in folders.items() if not Path(folder).is_dir()]
    if missing:
        raise InputError("; ".join(f"config key '{key}': folder {folders[key]} does not exist" for key in missing)
                         + f" (set it in your config file or with --config {missing[0]}=/path)")
