# Helpers shared by the rules: the lists that rule `all` expands, and the inputs
# that only exist when the toy world is generated.
from sdbrain import spaces

SUBJECTS = config["subjects"]
ROIS = list(config["rois"])
TOY = config["toy"]["enabled"]
TOY_TRUTH = "results/toy/truth"
TOY_MODEL = "results/toy/sd_random"
# the workflow builds the model itself only for the toy world's default model directory
BUILDS_MODEL = TOY and config["model_dir"] == TOY_MODEL
# reconstruction methods: z, c, and zc<strength>; encoding spaces: see sdbrain.spaces
METHOD_PATTERN = r"z|c|zc[0-9.]+"
SPACE_PATTERN = spaces.PATTERN


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
    return expand(
        "results/fmri/{subject}/{split}_{roi}.npy", subject=subject, split=["train", "test"], roi=ROIS
    ) + expand("results/fmri/{subject}/voxels_{roi}.tsv", subject=subject, roi=ROIS) + [
        f"results/fmri/{subject}/train_ids.tsv",
        f"results/fmri/{subject}/test_ids.tsv",
        f"results/fmri/{subject}/ingest_report.tsv",
    ]


METHODS = ["z", "c"] + [f"zc{s:g}" for s in config["reconstruct"]["strengths"]]
ZC_MAIN = METHODS[2]
# every encoding model the config asks for (sdbrain.spaces.plan)
ENCODE = spaces.plan(config["encode"], config["features"]["steps"], config["features"]["unet_layers"])
# Figures made with the toy world's random model say so on their face.
MODEL_NOTE = (
    "toy world, random-weight diffusion model: reconstructions test the code path, not the method"
    if BUILDS_MODEL
    else ""
)


def all_outputs():
    out = ["results/model/summary.tsv"]
    for subject in SUBJECTS:
        out += ingest_outputs(subject)
    out += expand("results/decode/{subject}/{target}_scores_images.tsv", subject=SUBJECTS, target=["z", "c"])
    out += expand("results/reconstruct/{subject}/{method}/manifest.tsv", subject=SUBJECTS, method=METHODS)
    out += expand("results/figures/fig3_{subject}.png", subject=SUBJECTS) + ["results/figures/fig4.png"]
    out += ["results/evaluate/identification.tsv", "results/evaluate/community_table.md", "results/figures/fig5.png"]
    out += expand("results/encode/{subject}/{table}_summary.tsv", subject=SUBJECTS, table=["roi", "unique", "layer"])
    out += expand("results/encode/{subject}/{space}/r_slices.png", subject=SUBJECTS, space=ENCODE.single)
    out += expand("results/encode/{subject}/z+{space}/unique_slices.png", subject=SUBJECTS, space=ENCODE.joint)
    out += expand("results/encode/{subject}/{group}/best_layer.nii.gz", subject=SUBJECTS, group=ENCODE.layer_groups)
    return out


def decoded_inputs(wildcards):
    """The decoded features a method needs: z (z, zc) and c (c, zc)."""
    needs = {"z": ["z"], "c": ["c"]}.get(wildcards.method, ["z", "c"])
    out = {}
    for target in needs:
        out[target] = f"results/decode/{wildcards.subject}/{target}_test.npy"
        out[f"{target}_ids"] = f"results/decode/{wildcards.subject}/{target}_test_ids.tsv"
    return out


def feature_chunks(wildcards):
    """The chunks a feature space is merged from: z and c chunk files, or diffusion chunk folders."""
    space = spaces.parse(wildcards.target)
    if space.kind in ("z", "c"):
        return {"values": expand(f"results/features/{space.kind}/chunk{{k}}.npy", k=FEATURE_CHUNKS),
                "ids": expand(f"results/features/{space.kind}/chunk{{k}}_ids.tsv", k=FEATURE_CHUNKS)}
    level = spaces.level_name(space.level)
    return {"folders": expand(f"results/features/diffusion{level}/chunk{{k}}", k=FEATURE_CHUNKS)}


def betas(wildcards):
    """A subject's brain-mask betas and their row ids (the encoding models' responses)."""
    return {
        "train": f"results/fmri/{wildcards.subject}/train_brain.npy",
        "test": f"results/fmri/{wildcards.subject}/test_brain.npy",
        "voxels": f"results/fmri/{wildcards.subject}/voxels_brain.tsv",
        "train_ids": f"results/fmri/{wildcards.subject}/train_ids.tsv",
        "test_ids": f"results/fmri/{wildcards.subject}/test_ids.tsv",
    }
