# Helpers shared by the rules: the lists that rule `all` expands, and the inputs
# that only exist when the toy world is generated.

import re

from sdbrain.linear import encode_maps
from sdbrain import machine
from sdbrain.workflow import plan, spaces

SUBJECTS = config["subjects"]
ROIS = list(config["rois"])
TOY = config["toy"]["enabled"]
TOY_TRUTH = "results/toy/truth"
TOY_MODEL = plan.RANDOM_MODEL
BUILDS_MODEL = plan.builds_model(config)
# reconstruction methods (z, c, zc<strength>) and encoding spaces: see sdbrain.spaces
METHOD_PATTERN = spaces.METHOD_PATTERN
# the validity analysis's controls reconstructed through the generator, as pseudo-subjects:
# the test images' true z and c (ceiling) and the training mean of each (mean)
GENERATED_CONTROLS = ["ceiling", "mean"]
SPACE_PATTERN = spaces.PATTERN


# GPU rules (device auto: CUDA when present) ask for the gpu resource, of which the local
# profile lets one run at a time, and two CPU threads to feed it, only where a GPU is there
# to use. Without one they are one-thread CPU jobs that run side by side (--cores 2: two at
# a time). The SLURM profile asks for a GPU and its threads for these rules itself.
GPU = 1 if machine.machine_has_gpu() else 0
GPU_THREADS = 2 if GPU else 1


def mem_from_input(base_mb, per_input_mb):
    """A job's memory (MB): a base plus a multiple of its inputs' size, so that one rule
    asks a scheduler for little on the toy world and for what NSD needs on NSD."""
    return lambda wildcards, input: int(base_mb + per_input_mb * input.size_mb)


def encode_mem(wildcards, input):
    """An encoding job's memory (MB): the voxel blocks' budget (encode.memory_mb), 2 GB for
    Python and torch, and three times the feature arrays of one model (loaded, standardised,
    PCA): a job fits its models one at a time, a joint one from z and one other space, so the
    two largest arrays count; the betas are memory-mapped and read one voxel block at a time."""
    features = sorted(
        (mb for path, mb in zip(input, input.size_files_mb) if path.startswith("results/features/")), reverse=True
    )
    return int(config["encode"]["memory_mb"] + 2000 + 3 * sum(features[:2]))


# --- encoding jobs per subject and noise level (rules encode_level, encode_steps) ---
LEVEL_MODELS = {steps: plan.level_models(config, steps).at("{level}") for steps in (False, True)}


def level_outputs(steps):
    """Every file of a level job (encode_level, or encode_steps with ``steps``), as {subject} and {level} patterns."""
    models, folder = LEVEL_MODELS[steps], "results/encode/{subject}"
    files = [encode_maps.files(f"{folder}/{space}", encode_maps.SINGLE) for space in models.single]
    files += [encode_maps.files(f"{folder}/z+{space}", encode_maps.JOINT, space) for space in models.joint]
    files += [encode_maps.files(f"{folder}/{group}", encode_maps.LAYERS) for group in models.layer_groups]
    return [path for model in files for path in model.values()]


def level_inputs(steps):
    """A level job's betas, its spaces' features, and z's features and model where it fits joint models."""

    def inputs(wildcards):
        models = plan.level_models(config, steps).at(wildcards.level)
        out = {
            **betas(wildcards),
            "features": expand("results/features/{space}.npy", space=models.single),
            "feature_ids": expand("results/features/{space}_ids.tsv", space=models.single),
        }
        if models.joint:
            out.update(
                z="results/features/z.npy",
                z_ids="results/features/z_ids.tsv",
                z_table=f"results/encode/{wildcards.subject}/z/voxels.tsv",
            )
        return out

    return inputs


def level_models(steps, part):
    """A level job's params: its single spaces, joint spaces or layer groups, named at the job's level."""
    return lambda wildcards: getattr(plan.level_models(config, steps).at(wildcards.level), part)


def level_pattern(steps):
    """The levels a level rule serves (encode.noise_levels or encode.step_levels), as a wildcard constraint."""
    levels = config["encode"]["step_levels" if steps else "noise_levels"]
    return "|".join(re.escape(spaces.level_name(s)) for s in levels) or "(?!)"


def roi_files():
    """Label volumes named by the ROIs (e.g. streams, brainmask)."""
    return sorted({spec["file"] for spec in config["rois"].values()})


def nsd_tree():
    """The NSD root as an input when the workflow generates it (toy world), else nothing."""
    return [config["nsd_root"]] if TOY else []


def model_input():
    """The model directory as an input when the workflow builds it (toy world), else nothing."""
    return [config["model_dir"]] if BUILDS_MODEL else []


def ingest_outputs(subject):
    return (
        expand("results/fmri/{subject}/{split}_{roi}.npy", subject=subject, split=["train", "test"], roi=ROIS)
        + expand("results/fmri/{subject}/voxels_{roi}.tsv", subject=subject, roi=ROIS)
        + [
            f"results/fmri/{subject}/train_ids.tsv",
            f"results/fmri/{subject}/test_ids.tsv",
            f"results/fmri/{subject}/ingest_report.tsv",
        ]
    )


METHODS = plan.methods(config)
ZC_MAIN = plan.main_method(config)
# rating (sdbrain.rate): the subjects and methods rated, and the exported answers (None: no analysis)
RATE_SUBJECTS = config["rate"]["subjects"] or SUBJECTS
RATE_METHODS = config["rate"]["methods"] or METHODS
RATE_ANSWERS = config["rate"]["answers"]
# every encoding model the config asks for (sdbrain.plan)
ENCODE = plan.encoding_models(config)
# banded ridge joint models beside the concatenated ones (encode.joint)
BANDED = config["encode"]["joint"] == "banded"
# figures of the toy world say so on their face
MODEL_NOTE = plan.model_note(config)


def all_outputs():
    out = ["results/model/summary.tsv"]
    for subject in SUBJECTS:
        out += ingest_outputs(subject)
    out += expand("results/decode/{subject}/{target}_scores_images.tsv", subject=SUBJECTS, target=["z", "c"])
    out += expand("results/reconstruct/{subject}/{method}/manifest.tsv", subject=SUBJECTS, method=METHODS)
    out += expand("results/figures/fig3_{subject}.png", subject=SUBJECTS) + ["results/figures/fig4.png"]
    out += ["results/evaluate/identification.tsv", "results/evaluate/community_table.md", "results/figures/fig5.png"]
    out += ["results/validity/summary.tsv", "results/validity/report.md", "results/figures/validity.png"]
    out += expand("results/encode/{subject}/{table}_summary.tsv", subject=SUBJECTS, table=["roi", "unique", "layer"])
    out += expand("results/encode/{subject}/{space}/r_slices.png", subject=SUBJECTS, space=ENCODE.single)
    out += expand("results/encode/{subject}/z+{space}/unique_slices.png", subject=SUBJECTS, space=ENCODE.joint)
    out += expand("results/encode/{subject}/{group}/best_layer.nii.gz", subject=SUBJECTS, group=ENCODE.layer_groups)
    out += expand("results/flatmaps/{subject}/{space}_r.png", subject=SUBJECTS, space=ENCODE.single)
    out += expand("results/flatmaps/{subject}/z+{space}_unique.png", subject=SUBJECTS, space=ENCODE.joint)
    out += expand("results/flatmaps/{subject}/{group}_best_layer.png", subject=SUBJECTS, group=ENCODE.layer_groups)
    out += expand("results/viewer/{subject}/index.html", subject=SUBJECTS)
    out += expand("results/figures/fig{fig}.png", fig=ENCODING_FIGURES)
    if BANDED:
        out += expand(
            "results/encode/{subject}/z+{space}/banded/unique_slices.png", subject=SUBJECTS, space=ENCODE.joint
        )
        out += expand("results/encode/{subject}/joint_{table}.tsv", subject=SUBJECTS, table=["comparison", "agreement"])
        out += expand(
            "results/flatmaps/{subject}/z+{space}_banded_{what}.png",
            subject=SUBJECTS,
            space=ENCODE.joint,
            what=["unique", "split"],
        )
    out += [
        "results/report/config.yaml",
        "results/report/provenance.yaml",
        "results/report/logs.txt",
        "results/report/rule_times.md",
        "results/rate/trials.tsv",
    ]
    out += ["results/rate/accuracy.md"] if RATE_ANSWERS else []
    return out


def decoded_inputs(wildcards):
    """The decoded features a method needs: z (z, zc) and c (c, zc)."""
    needs = {"z": ["z"], "c": ["c"]}.get(wildcards.method, ["z", "c"])
    # the validity analysis's generated controls reconstruct as pseudo-subjects (rules/validity.smk)
    folder = "results/validity/controls" if wildcards.subject in GENERATED_CONTROLS else "results/decode"
    out = {}
    for target in needs:
        out[target] = f"{folder}/{wildcards.subject}/{target}_test.npy"
        out[f"{target}_ids"] = f"{folder}/{wildcards.subject}/{target}_test_ids.tsv"
    return out


def validity_manifests():
    """Every reconstruction the validity analysis scores: the subjects' methods and the generated controls."""
    return expand("results/reconstruct/{subject}/{method}/manifest.tsv", subject=SUBJECTS, method=METHODS) + expand(
        "results/reconstruct/{control}/{method}/manifest.tsv", control=GENERATED_CONTROLS, method=ZC_MAIN
    )


def feature_chunks(wildcards):
    """The chunks a feature space is merged from: z and c chunk files, or diffusion chunk folders."""
    space = spaces.parse(wildcards.target)
    if space.kind in ("z", "c"):
        return {
            "values": expand(f"results/features/{space.kind}/chunk{{k}}.npy", k=FEATURE_CHUNKS),
            "ids": expand(f"results/features/{space.kind}/chunk{{k}}_ids.tsv", k=FEATURE_CHUNKS),
        }
    return {"folders": expand(f"results/features/diffusion{space.level_text}/chunk{{k}}", k=FEATURE_CHUNKS)}


def betas(wildcards):
    """A subject's brain-mask betas and their row ids (the encoding models' responses)."""
    return {
        "train": f"results/fmri/{wildcards.subject}/train_brain.npy",
        "test": f"results/fmri/{wildcards.subject}/test_brain.npy",
        "voxels": f"results/fmri/{wildcards.subject}/voxels_brain.tsv",
        "train_ids": f"results/fmri/{wildcards.subject}/train_ids.tsv",
        "test_ids": f"results/fmri/{wildcards.subject}/test_ids.tsv",
    }


# --- flatmaps and the encoding figures (Figs. 6-9) ---
FLAT = config["flatmaps"]
LAYER_NAMES = list(config["features"]["unet_layers"])

# the decoders' ROIs (early, ventral), outlined on every flatmap when they are streams labels
OUTLINE_LABELS = [
    label
    for roi in dict.fromkeys(config["decode"]["roi"].values())
    if config["rois"][roi]["file"] == "streams"
    for label in config["rois"][roi]["labels"]
]


def cx_subject(subject):
    """The pycortex subject a subject's maps are drawn on (toy: S1; NSD: the subject, imported)."""
    return FLAT["pycortex_subject"].format(subject=subject)


def figure_inputs(fig):
    return plan.encoding_figure(config, fig).maps() + expand("results/flatmaps/{subject}/rois.png", subject=SUBJECTS)


ENCODING_FIGURES = plan.encoding_figures(config)
