"""What a config asks the workflow for, named in the grammar of ``spaces``.

The reconstruction methods, the encoding models, the encoding figures (Figs. 6-9: rows,
columns, panels, title, colour style), and the config keys each job reads.

The rules take all of it from here. Each job's params hold only the keys its script
reads (``keys``): Snakemake reruns a job whose params changed, so editing a key reruns
exactly the jobs that read it, not every job of the key's section.
"""
from __future__ import annotations

from dataclasses import dataclass

from sdbrain.workflow import paths, spaces

# --- the config keys each job reads, per config section --------------------------------

# features: rule features (z and c)
FEATURES_KEYS = ("n_chunks", "batch_size", "device", "z_size", "z_posterior", "seed")
# features: rule diffusion_features (its steps and U-Net layers only at the captured levels)
DIFFUSION_KEYS = ("n_chunks", "device", "unet_pool")
# reconstruct: the image-to-image pass that gives z_c (rule diffusion_features; one sample)
GENERATE_KEYS = ("image_size", "steps", "guidance_scale", "eta", "seed", "batch_size", "noise_start", "x_z_resample")
# reconstruct: rule reconstruct (the strength is the method's)
RECONSTRUCT_KEYS = GENERATE_KEYS + ("n_samples", "n_chunks", "device")
# decode: rule decode (the ROI is passed per target)
DECODE_KEYS = ("alphas", "folds", "fit_intercept", "n_targets_batch", "backend", "solver", "edge_warning",
               "memory_mb", "train_on")
# encode: rules encode, encode_level and encode_steps (the models and figures asked for are rule all's)
ENCODE_KEYS = ("pca_components", "seed", "alphas", "folds", "fit_intercept", "n_targets_batch", "memory_mb",
          "voxel_block", "fdr_q", "backend", "solver")
# encode: rule encode_banded
BANDED_KEYS = ("pca_components", "seed", "alphas", "folds", "fit_intercept", "n_targets_batch", "memory_mb",
          "voxel_block", "fdr_q", "backend", "banded")
# evaluate: rules eval_originals and evaluate
EVALUATE_KEYS = ("recipes", "batch_size", "seed", "weights", "clip_random")
# evaluate: rule validity_features (one network of the late feature)
NETWORKS_KEYS = ("batch_size", "seed", "weights", "clip_random")
# validity: rule validity (validity.feature is the features' and the summary's)
VALIDITY_KEYS = ("n_way", "pools", "top", "bootstrap", "permutations", "collapse_k", "memory_mb", "seed")
# toy: rule toy_nsd (the generator; streams is toy_grid's, model and train are other rules')
TOY_NSD_KEYS = ("seed", "n_subjects", "n_sessions", "trials_per_session", "n_shared", "shared_repeats", "train_repeats",
           "image_size", "noise_sd", "amplitude", "mixed_amplitude", "novel")


def keys(section: dict, names: tuple[str, ...]) -> dict:
    """Return the keys ``names`` of a config section (those it sets: optional keys may be absent)."""
    return {name: section[name] for name in names if name in section}


# --- what the run is -----------------------------------------------------------------------

def builds_model(config: dict) -> bool:
    """Tell whether the workflow builds its diffusion model (seeded random weights) instead of loading one."""
    return config["toy"]["enabled"] and config["model_dir"] == paths.TOY_RANDOM_MODEL


def model_note(config: dict) -> str:
    """Return the line under every figure of the toy world, saying so (and whether its model has random weights).

    Empty on NSD.
    """
    if builds_model(config):
        return "toy world, random-weight diffusion model: reconstructions test the code path, not the method"
    if config["toy"]["enabled"]:
        return f"toy world (simulated fMRI), diffusion model {config['model_dir']}: not NSD results"
    return ""


# --- reconstruction methods -------------------------------------------------------------


def methods(config: dict) -> list[str]:
    """Return the reconstruction methods: z, c, zc at each strength of reconstruct.strengths, and ``extra_methods``."""
    return spaces.methods(config["reconstruct"]["strengths"], config["text"]["enabled"], gan_enabled(config))


def gan_enabled(config: dict) -> bool:
    """Tell whether the GAN init's methods are in the run (gan.enabled; a config without the section: no)."""
    return bool(config.get("gan", {}).get("enabled"))


def extra_methods(config: dict) -> list[str]:
    """Return the technical report's methods that the config enables: text, gan, gan_text."""
    return spaces.decoded_input_methods(config["text"]["enabled"], gan_enabled(config))


def main_method(config: dict) -> str:
    """Return the main method, zc at the first strength: Figs. 3-5, the community table and the validity controls."""
    return spaces.method(config["reconstruct"]["strengths"][0])


def fig3_methods(config: dict) -> list[str]:
    """Fig. 3's rows: z, c, the main zc and the enabled methods of the technical report (``extra_methods``)."""
    return ["z", "c", main_method(config)] + extra_methods(config)


def fig3_labels(config: dict) -> list[str]:
    """Fig. 3's row labels: one per method of ``fig3_methods``."""
    labels = {"text": lambda: f"text (s={spaces.level_name(text_strength(config))})", "gan": lambda: "gan (iCNN)",
              "gan_text": lambda: f"gan_text (s={spaces.level_name(gan_strength(config))})"}
    return ["X_z", "X_c", f"X_zc (s={spaces.level_name(config['reconstruct']['strengths'][0])})"] + [
        labels[m]() for m in extra_methods(config)]


def text_strength(config: dict) -> float:
    """Return method text's image-to-image strength: text.strength, or X_zc's main one where it is null."""
    strength = config["text"]["strength"]
    return config["reconstruct"]["strengths"][0] if strength is None else strength


def gan_strength(config: dict) -> float:
    """Return method gan_text's image-to-image strength: gan.strength, or X_zc's main one where it is null."""
    strength = config["gan"]["strength"]
    return config["reconstruct"]["strengths"][0] if strength is None else strength


def reconstruct_settings(config: dict, method: str) -> dict:
    """Return the reconstruct keys of ``method``'s jobs; methods text and gan_text also hold their strength."""
    settings = keys(config["reconstruct"], RECONSTRUCT_KEYS)
    if method == "text":
        return {**settings, "text_strength": text_strength(config)}
    if method == "gan_text":
        return {**settings, "gan_strength": gan_strength(config)}
    return settings


def gan_targets(config: dict) -> list[str]:
    """Return the decoder targets of the GAN init: one per VGG19 layer (gan.layers), as 'vgg19-<layer>'."""
    return [f"vgg19-{layer}" for layer in config["gan"]["layers"]]


def target_family(target: str) -> str:
    """Return the config name of a decoder target: 'vgg19-conv1_2' -> 'vgg19' (decode.roi, decode.per_target)."""
    return target.split("-")[0]


def decode_settings(config: dict, target: str) -> dict:
    """Return the decode keys of ``target``'s decoder: decode's, with decode.per_target's entries in their place."""
    return {**keys(config["decode"], DECODE_KEYS), **config["decode"]["per_target"].get(target_family(target), {})}


# --- encoding models --------------------------------------------------------------------


@dataclass
class Models:
    """Every encoding model of a config (``encoding_models``): single-space and joint models, U-Net layer groups."""

    single: list[str]                       # one model per space
    joint: list[str]                        # spaces modelled jointly with z
    layer_groups: dict[str, list[str]]      # unet<s>-<step> -> its layers' spaces (best layer per voxel)
    captured: list[str]                     # noise levels (as named) whose steps and U-Net layers are captured


def encoding_models(config: dict) -> Models:
    """Every encoding model of the config: Figs. 6-7 at ``noise_levels``, Figs. 8-9 at ``step_levels``."""
    encode, steps, layers = config["encode"], config["features"]["steps"], config["features"]["unet_layers"]
    single = ["z", "c"] + [spaces.name("zc", s) for s in encode["noise_levels"]]
    joint = [spaces.name("zc", s) for s in encode["noise_levels"]]
    groups = {}
    for s in encode["step_levels"]:
        at_steps = [spaces.name(f"zc-{step}", s) for step in steps]
        single += [x for x in at_steps if x not in single]
        joint += [x for x in at_steps if x not in joint]
        for step in steps:
            group = [spaces.name(f"unet-{layer}-{step}", s) for layer in layers]
            groups[spaces.name(f"unet-{step}", s)] = group
            single += group
    return Models(single, joint, groups, [spaces.level_name(s) for s in encode["step_levels"]])


@dataclass
class LevelModels:
    """The models one job fits at one noise level, as diffusion features (``spaces.name`` puts them at a level).

    Rule encode_level fits the final z_c (Figs. 6-7), rule encode_steps z_c and the U-Net layers at each step
    (Figs. 8-9).
    """

    single: list[str]                       # zc, zc-<step>, unet-<layer>-<step>
    joint: list[str]                        # those also modelled jointly with z
    layer_groups: dict[str, list[str]]      # unet-<step> -> its layers (best layer per voxel)

    def count(self) -> int:
        """Ridge models fitted (single and joint)."""
        return len(self.single) + len(self.joint)

    def at(self, level: float | str) -> LevelModels:
        """Return the same models named as spaces at ``level`` (a '{level}' text gives a rule's patterns)."""
        return LevelModels([spaces.name(f, level) for f in self.single], [spaces.name(f, level) for f in self.joint],
                           {spaces.name(g, level): [spaces.name(f, level) for f in members]
                            for g, members in self.layer_groups.items()})


def level_models(config: dict, steps: bool) -> LevelModels:
    """Return what rule encode_level or encode_steps fits at one level.

    ``steps`` False: rule encode_level, at a level of encode.noise_levels; True: encode_steps, at a level of
    encode.step_levels. Together they are ``encoding_models``' spaces other than z and c.
    """
    if not steps:
        return LevelModels(["zc"], ["zc"], {})
    at_steps = [f"zc-{step}" for step in config["features"]["steps"]]
    groups = {f"unet-{step}": [f"unet-{layer}-{step}" for layer in config["features"]["unet_layers"]]
              for step in config["features"]["steps"]}
    return LevelModels(at_steps + [f for members in groups.values() for f in members], at_steps, groups)


# --- the encoding figures (Figs. 6-9, subjects side by side) ----------------------------

TITLES = {
    6: "Fig. 6: prediction accuracy (r) of z, c and z_c, significant voxels",
    7: "Fig. 7: unique variance of z and z_c in joint models, by noise level",
    8: "Fig. 8: unique variance of z and z_c in joint models, by denoising step",
    9: "Fig. 9: the U-Net layer that predicts each voxel best, by denoising step",
}
# a colour scale without vmax is one scale for the whole figure; categories: one colour per layer
_HOT = {"cmap": "hot", "vmin": 0.0, "vmax": None}


@dataclass
class Figure:
    """One encoding figure (Figs. 6-9, subjects side by side): its grid of flatmap panels, title and colour style."""

    rows: list[str]             # row labels
    columns: list[str]          # column labels
    panels: list[list[dict]]    # per row and column: subject, map, mask (or None), zero_is_empty
    title: str
    style: dict                 # colormap and scale (sdbrain.maps.flatmaps.figure_style)

    def maps(self) -> list[str]:
        """Every volume the panels read (maps and their masks)."""
        return [p[key] for row in self.panels for p in row for key in ("map", "mask") if p[key]]


def fig6_zc(config: dict) -> str | None:
    """Return the z_c row of Fig. 6: the middle noise level of encode.noise_levels (none without them)."""
    levels = config["encode"]["noise_levels"]
    return spaces.name("zc", levels[len(levels) // 2]) if levels else None


def step_level(config: dict) -> str | None:
    """Return the noise level of Figs. 8-9: the first of encode.step_levels (none without them)."""
    levels = config["encode"]["step_levels"]
    return spaces.level_name(levels[0]) if levels else None


def encoding_figures(config: dict) -> list[int]:
    """Fig. 6 always, Fig. 7 with noise levels, Figs. 8-9 with step levels."""
    return [6] + ([7] if config["encode"]["noise_levels"] else []) + ([8, 9] if step_level(config) else [])


def _panel(subject: str, model: str, name: str, masked: bool = True) -> dict:
    """Describe a panel: the map ``name`` (a volume of the model's folder) and, ``masked``, the model's FDR mask."""
    folder = paths.model(model, subject)
    return {"subject": subject, "map": f"{folder}/{name}.nii.gz",
            "mask": f"{folder}/{paths.SINGLE['fdr']}" if masked else None, "zero_is_empty": not masked}


def encoding_figure(config: dict, fig: int) -> Figure:
    """Rows, columns, panels, title and style of Fig. ``fig`` (6-9)."""
    subjects, steps = list(config["subjects"]), list(config["features"]["steps"])
    level = config["encode"]["step_levels"][0] if config["encode"]["step_levels"] else None  # Figs. 8-9
    if fig == 6:
        zc = fig6_zc(config)
        rows = ["z", "c"] + ([zc] if zc else [])
        return Figure(rows, subjects, [[_panel(s, space, "r") for s in subjects] for space in rows], TITLES[6],
                      {**_HOT, "label": "r"})
    if fig in (7, 8):
        noise = config["encode"]["noise_levels"]
        others = ([spaces.name("zc", s) for s in noise] if fig == 7
                  else [spaces.name(f"zc-{step}", level) for step in steps])
        labels = ([f"s = {spaces.level_name(s)}" for s in noise] if fig == 7
                  else [f"{step} step (s = {spaces.level_name(level)})" for step in steps])
        maps = "/banded" if config["encode"]["joint_maps"] == "banded" else ""
        columns = [f"{s}: {what}" for s in subjects for what in ("unique to z", "unique to z_c")]
        panels = [[_panel(s, f"z+{o}{maps}", name) for s in subjects for name in ("unique_z", f"unique_{o}")]
                  for o in others]
        return Figure(labels, columns, panels, TITLES[fig], {**_HOT, "label": "unique variance (r^2)"})
    if fig == 9:
        return Figure([f"{step} step (s = {spaces.level_name(level)})" for step in steps], subjects,
                      [[_panel(s, spaces.name(f"unet-{step}", level), "best_layer", masked=False) for s in subjects]
                       for step in steps],
                      TITLES[9], {"categories": list(config["features"]["unet_layers"])})
    raise ValueError(f"no encoding figure {fig} (Figs. 6-9)")
