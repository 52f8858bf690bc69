# Lookups shared by the rules: what the config asks for (sdbrain.workflow.plan), named by
# sdbrain.workflow.paths, and the few constants the rules need. Nothing here computes: the
# constants read config, and the functions are evaluated per job.

import functools
import os
import re

from sdbrain import machine
from sdbrain.workflow import paths, plan, spaces

SUBJECTS = config["subjects"]
ROIS = list(config["rois"])
TOY = config["toy"]["enabled"]
# method text: BLIP's tokens decoded, captions written from them (rules/text.smk)
TEXT = config["text"]["enabled"]
# the toy model with seeded random weights is built by rule toy_model; any other model_dir is read in place
BUILDS_MODEL = plan.builds_model(config)
# reconstruction methods (z, c, zc<strength>; sdbrain.workflow.spaces) and the main one (Figs. 3-5)
METHODS = plan.methods(config)
ZC_MAIN = plan.main_method(config)
# every encoding model the config asks for: spaces, joint models with z, U-Net layer groups
ENCODING_MODELS = plan.encoding_models(config)
# banded ridge joint models beside the concatenated ones (encode.joint)
BANDED_JOINT = config["encode"]["joint"] == "banded"
ENCODING_FIGURES = plan.encoding_figures(config)
FEATURE_CHUNKS = range(config["features"]["n_chunks"])
RECONSTRUCTION_CHUNKS = range(config["reconstruct"]["n_chunks"])
# the validity analysis's controls reconstructed through the generator, as pseudo-subjects:
# the test images' true z and c (ceiling) and the training mean of each (mean)
GENERATED_CONTROLS = ["ceiling", "mean"]
# every reconstruction the validity analysis scores: (subject or generated control, method)
VALIDITY_RECONSTRUCTIONS = [(s, m) for s in SUBJECTS for m in METHODS] + [(c, ZC_MAIN) for c in GENERATED_CONTROLS]
# rating (sdbrain.rate): the subjects and methods rated, and the exported answers (None: no analysis)
RATE_SUBJECTS = config["rate"]["subjects"] or SUBJECTS
RATE_METHODS = config["rate"]["methods"] or METHODS
RATE_ANSWERS = config["rate"]["answers"]
# figures of the toy world say so on their face
MODEL_NOTE = plan.model_note(config)
FLATMAPS = config["flatmaps"]
UNET_LAYERS = list(config["features"]["unet_layers"])
# the decoders' ROIs (early, ventral), outlined on every flatmap when they are streams labels
OUTLINE_LABELS = [
    label
    for roi in dict.fromkeys(config["decode"]["roi"][target] for target in ("z", "c"))
    if config["rois"][roi]["file"] == "streams"
    for label in config["rois"][roi]["labels"]
]

# the models of a level job (rules encode_level and encode_steps), named at a '{level}' pattern
LEVEL_MODELS = {steps: plan.level_models(config, steps).at("{level}") for steps in (False, True)}


# GPU rules (device auto: CUDA when present) ask for the gpu resource, of which the local
# profile lets one run at a time, and two CPU threads to feed it, only where a GPU is there
# to use. Without one they are one-thread CPU jobs that run side by side (--cores 2: two at
# a time). The SLURM profile asks for a GPU and its threads for these rules itself.
@functools.cache
def _has_gpu():
    return machine.machine_has_gpu()


def gpu(wildcards):
    """A GPU rule's gpu resource: 1 where this machine has a GPU, else 0."""
    return 1 if _has_gpu() else 0


def gpu_threads(wildcards):
    """A GPU rule's threads: two to feed a GPU, else one."""
    return 2 if _has_gpu() else 1


def mem_from_input(base_mb, per_input_mb):
    """A job's memory (MB): a base plus a multiple of its inputs' size, so that one rule
    asks a scheduler for little on the toy world and for what NSD needs on NSD."""
    return lambda wildcards, input: int(base_mb + per_input_mb * input.size_mb)


def decode_mem(wildcards, input):
    """A decoder's memory (MB): 4 GB for Python and torch and, as decode.py chooses its route, either three
    times its inputs (targets held in memory) or six times the betas (loaded, standardised, the folds'
    decompositions) plus decode.memory_mb for the streamed target blocks (a target file larger than it)."""
    mb = lambda path: os.path.getsize(path) / 2**20
    budget = plan.decode_settings(config, wildcards.target)["memory_mb"]
    if mb(input.features) <= budget:
        return int(4000 + 3 * input.size_mb)
    return int(4000 + budget + 6 * (mb(input.train) + mb(input.test)))


def encode_mem(wildcards, input):
    """An encoding job's memory (MB): the voxel blocks' budget (encode.memory_mb), 2 GB for
    Python and torch, and three times the feature arrays of one model (loaded, standardised,
    PCA): a job fits its models one at a time, a joint one from z and one other space, so the
    two largest arrays count; the betas are memory-mapped and read one voxel block at a time."""
    features = sorted(
        (mb for path, mb in zip(input, input.size_files_mb) if path.startswith(paths.FEATURES)), reverse=True
    )
    return int(config["encode"]["memory_mb"] + 2000 + 3 * sum(features[:2]))


def nsd_tree():
    """The NSD root as an input when the workflow generates it (toy world), else nothing."""
    return [config["nsd_root"]] if TOY else []


def toy_truth():
    """The toy world's ground truth as an input (none on NSD)."""
    return [paths.TOY_TRUTH] if TOY else []


def model_input():
    """The model directory as an input when the workflow builds it (toy world), else nothing."""
    return [config["model_dir"]] if BUILDS_MODEL else []


def roi_files():
    """Label volumes named by the ROIs (e.g. streams, brainmask)."""
    return sorted({spec["file"] for spec in config["rois"].values()})


def ingest_outputs(subject):
    """Every file that ingestion writes for ``subject``: each ROI's betas and voxels, the rows' ids, the report."""
    return [paths.betas(split, roi, subject) for split in ("train", "test") for roi in ROIS] + [
        *(paths.voxels(roi, subject) for roi in ROIS),
        paths.trial_ids("train", subject),
        paths.trial_ids("test", subject),
        paths.ingest_report(subject),
    ]


def betas(wildcards):
    """A subject's brain-mask betas and their row ids (the encoding models' responses)."""
    return {
        "train": paths.betas("train", "brain", wildcards.subject),
        "test": paths.betas("test", "brain", wildcards.subject),
        "voxels": paths.voxels("brain", wildcards.subject),
        "train_ids": paths.trial_ids("train", wildcards.subject),
        "test_ids": paths.trial_ids("test", wildcards.subject),
    }


def manifests(subjects, methods):
    """The reconstruction manifests of every subject (or generated control) and method."""
    return [paths.manifest(method, subject) for subject in subjects for method in methods]


def cx_subject(subject):
    """The pycortex subject a subject's maps are drawn on (toy: S1; NSD: the subject, imported)."""
    return FLATMAPS["pycortex_subject"].format(subject=subject)


def encoding_outputs(subject):
    """Every encoding output that the run ends with for ``subject``: summaries, slices, maps and flatmaps."""
    models = ENCODING_MODELS
    out = [paths.encode_summary(table, subject) for table in ("roi", "unique", "layer")]
    out += [paths.model_file(paths.SINGLE, "png", space, subject) for space in models.single]
    out += [paths.model_file(paths.JOINT, "png", paths.joint(space), subject, space) for space in models.joint]
    out += [paths.model_file(paths.LAYERS, "nifti", group, subject) for group in models.layer_groups]
    out += [paths.flatmap(f"{space}_r", subject) for space in models.single]
    out += [paths.flatmap(f"{paths.joint(space)}_unique", subject) for space in models.joint]
    out += [paths.flatmap(f"{group}_best_layer", subject) for group in models.layer_groups]
    out += [paths.viewer(subject)]
    if BANDED_JOINT:
        out += [paths.model_file(paths.BANDED, "png", paths.banded(space), subject, space) for space in models.joint]
        out += [paths.joint_comparison(table, subject) for table in ("comparison", "agreement")]
        out += [
            paths.flatmap(f"{paths.joint(s)}_banded_{what}", subject)
            for s in models.joint
            for what in ("unique", "split")
        ]
    return out


def all_outputs():
    """Every file the run ends with (rule all)."""
    out = [paths.MODEL_SUMMARY]
    for subject in SUBJECTS:
        out += ingest_outputs(subject)
        out += [paths.decode_scores("images", target, subject) for target in ("z", "c")]
        out += [paths.figure(f"fig3_{subject}")]
        out += encoding_outputs(subject)
    out += manifests(SUBJECTS, METHODS)
    out += [paths.figure("fig4"), paths.IDENTIFICATION, paths.COMMUNITY_MARKDOWN, paths.figure("fig5")]
    out += [paths.VALIDITY_SUMMARY, paths.VALIDITY_REPORT, paths.figure("validity")]
    out += [paths.figure(f"fig{fig}") for fig in ENCODING_FIGURES]
    out += [paths.RUN_CONFIG, paths.PROVENANCE, paths.RUN_LOGS, paths.RULE_TIMES, paths.RATE_TRIALS]
    out += [paths.RATE_MARKDOWN] if RATE_ANSWERS else []
    out += [paths.TEXT_SUMMARY] if TEXT else []
    return out


def feature_chunks(wildcards):
    """The chunks a feature space is merged from: z and c chunk files, or diffusion chunk folders."""
    space = spaces.parse(wildcards.target)
    if space.kind in ("z", "c"):
        values = [paths.feature_chunk(space.kind, k) for k in FEATURE_CHUNKS]
        return {"values": values, "ids": [paths.ids(v) for v in values]}
    return {"folders": [paths.diffusion_chunk(space.level_text, k) for k in FEATURE_CHUNKS]}


def decoder_betas(wildcards):
    """The betas of the ROI that decodes the target (decode.roi), and their rows' ids."""
    roi = config["decode"]["roi"][plan.target_family(wildcards.target)]
    return {
        "train": paths.betas("train", roi, wildcards.subject),
        "test": paths.betas("test", roi, wildcards.subject),
        "voxels": paths.voxels(roi, wildcards.subject),
        "train_ids": paths.trial_ids("train", wildcards.subject),
        "test_ids": paths.trial_ids("test", wildcards.subject),
    }


def decoded_inputs(wildcards):
    """The decoded features a method needs: z (z, zc, text), c (c, zc), the decoded captions' c (text, gan_text) and
    the iCNN images (gan_text); the validity analysis's generated controls reconstruct from theirs as pseudo-subjects
    (rules/validity.smk)."""
    needs = {"z": ["z"], "c": ["c"], "text": ["z"], "gan_text": []}.get(wildcards.method, ["z", "c"])
    controls = wildcards.subject in GENERATED_CONTROLS
    out = {}
    for target in needs:
        out.update(paths.with_ids(target, paths.decoded(target, wildcards.subject, controls)))
    if wildcards.method in ("text", "gan_text"):  # c of the decoded captions
        out.update(paths.with_ids("c", paths.caption_c(wildcards.subject)))
    if wildcards.method == "gan_text":  # the start images: method gan's
        out["gan"] = paths.manifest("gan", wildcards.subject)
    return out


def control_features():
    """The z and c that the generated controls reconstruct from, named <control>_<target> (with their ids)."""
    out = {}
    for control in GENERATED_CONTROLS:
        for target in ("z", "c"):
            out.update(paths.with_ids(f"{control}_{target}", paths.decoded(target, control, controls=True)))
    return out


def level_outputs(steps):
    """Every file of a level job (encode_level, or encode_steps with ``steps``), as {subject} and {level} patterns."""
    models = LEVEL_MODELS[steps]
    files = [paths.model_files(paths.SINGLE, space) for space in models.single]
    files += [paths.model_files(paths.JOINT, paths.joint(space), other=space) for space in models.joint]
    files += [paths.model_files(paths.LAYERS, group) for group in models.layer_groups]
    return [path for model in files for path in model.values()]


def level_inputs(steps):
    """A level job's betas, its spaces' features, and z's features and model where it fits joint models."""

    def inputs(wildcards):
        models = plan.level_models(config, steps).at(wildcards.level)
        out = {
            **betas(wildcards),
            "features": [paths.features(space) for space in models.single],
            "feature_ids": [paths.ids(paths.features(space)) for space in models.single],
        }
        if models.joint:
            out.update(paths.with_ids("z", paths.features("z")))
            out["z_table"] = paths.model_file(paths.SINGLE, "table", "z", wildcards.subject)
        return out

    return inputs


def level_models(steps, part):
    """A level job's params: its single spaces, joint spaces or layer groups, named at the job's level."""
    return lambda wildcards: getattr(plan.level_models(config, steps).at(wildcards.level), part)


def level_pattern(steps):
    """The levels a level rule serves (encode.noise_levels or encode.step_levels), as a wildcard constraint."""
    levels = config["encode"]["step_levels" if steps else "noise_levels"]
    return "|".join(re.escape(spaces.level_name(s)) for s in levels) or "(?!)"


def model_tables(kind, names, other=None):
    """The voxel tables of the subject's models ``names`` (``other``: their spaces, for joint models)."""
    return [paths.model_file(kind, "table", name, other=o) for name, o in zip(names, other or names)]


def transform(subject):
    """The pycortex transform that the import of an NSD subject writes into the workflow's filestore."""
    return paths.pycortex_transform(config["pycortex_dir"], subject, FLATMAPS["xfm"])


def encoding_maps(wildcards):
    """Every map of a subject's encoding models that its flatmaps and viewer draw, with the FDR masks."""
    joint = ENCODING_MODELS.joint
    single_map = lambda key: [paths.model_file(paths.SINGLE, key, s) for s in ENCODING_MODELS.single]  # noqa: E731
    joint_map = lambda key: [paths.model_file(paths.JOINT, key, paths.joint(s), other=s) for s in joint]  # noqa: E731
    return {
        "r": single_map("r"),
        "fdr": single_map("fdr"),
        "unique_z": joint_map("unique_z"),
        "unique_other": joint_map("unique_other"),
        "joint_fdr": joint_map("fdr"),
        "best": [paths.model_file(paths.LAYERS, "nifti", group) for group in ENCODING_MODELS.layer_groups],
    }


def banded_maps(wildcards):
    """The banded joint models' maps of a subject that its banded flatmaps draw."""
    joint = ENCODING_MODELS.joint
    return {
        key: [paths.model_file(paths.BANDED, key, paths.banded(s), other=s) for s in joint]
        for key in ("fdr", "unique_z", "unique_other", "split_z", "split_other")
    }


def flatmap_reports(names, caption):
    """A subject's flatmaps ``names`` as report items."""
    kind = dict(caption=f"../report/{caption}.rst", category="Flatmaps", subcategory="{subject}")
    return [report(paths.flatmap(name), **kind) for name in names]
