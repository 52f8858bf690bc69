"""Every file under ``results/``: the rules' inputs and outputs, named in one place.

Each name is a function of the values that tell its files apart. Called with a value it names one file
(``features("z")``: results/features/z.npy); called with its defaults it gives the rule's pattern, whose
wildcards Snakemake fills (``features()``: results/features/{space}.npy). An array that crosses stages has the
73k ids of its rows in a table beside it: ``ids(array)`` names that table.

The method layer never names a file here: a rule hands each script its inputs and outputs, and the script hands
them to the method.
"""
from __future__ import annotations

RESULTS = "results"


def ids(array: str) -> str:
    """Name the table of the 73k ids of an array's rows: 'x.npy' -> 'x_ids.tsv'."""
    return array.removesuffix(".npy") + "_ids.tsv"


def with_ids(name: str, array: str) -> dict[str, str]:
    """Name an array and its ids as a rule's named inputs: {name: array, name_ids: its ids}."""
    return {name: array, f"{name}_ids": ids(array)}


# --- the toy world ---------------------------------------------------------------------------------
TOY = f"{RESULTS}/toy"
TOY_GRID = f"{TOY}/grid.npz"
TOY_NSD = f"{TOY}/nsd"
TOY_TRUTH = f"{TOY}/truth"
# the toy model that the workflow builds itself, with seeded random weights (model_dir names it to ask for it)
TOY_RANDOM_MODEL = f"{TOY}/sd_random"
TOY_TRAINED_MODEL = f"{TOY}/sd_trained"
TOY_TRAINED_SCORER = f"{TOY}/sd_trained_scorer.pt"
TOY_TRAINED_CAPTIONER = f"{TOY}/blip_trained"
TOY_TRAINED_GAN = f"{TOY}/gan_trained"


def toy_truth(subject: str = "{subject}") -> str:
    """Name a toy subject's ground truth (voxel classes, signal)."""
    return f"{TOY_TRUTH}/{subject}.npz"


TOY_SCENES = f"{TOY_TRUTH}/scenes.tsv"

# --- fMRI: the NSD check, the test set and each subject's betas ------------------------------------
FMRI = f"{RESULTS}/fmri"
TEST_IDS = f"{FMRI}/test_ids.tsv"
INVENTORY = f"{FMRI}/inventory.tsv"


def fmri(subject: str = "{subject}") -> str:
    """Name a subject's folder of ingested betas (``sdbrain.data.ingest`` writes and reads it)."""
    return f"{FMRI}/{subject}"


def betas(split: str = "{split}", roi: str = "{roi}", subject: str = "{subject}") -> str:
    """Name a subject's betas of one ROI: training trials or averaged test images ('train', 'test')."""
    return f"{fmri(subject)}/{split}_{roi}.npy"


def voxels(roi: str = "{roi}", subject: str = "{subject}") -> str:
    """Name the voxel table of a subject's ROI (flat index, position, valid)."""
    return f"{fmri(subject)}/voxels_{roi}.tsv"


def trial_ids(split: str = "{split}", subject: str = "{subject}") -> str:
    """Name the 73k ids of a subject's training trials or test images: the rows of its betas."""
    return f"{fmri(subject)}/{split}_ids.tsv"


def ingest_report(subject: str = "{subject}") -> str:
    """Name the report of a subject's ingestion: voxels per ROI, those excluded and why, and the trials."""
    return f"{fmri(subject)}/ingest_report.tsv"


# --- the model and the features of the stimuli ------------------------------------------------------
MODEL_SUMMARY = f"{RESULTS}/model/summary.tsv"
FEATURES = f"{RESULTS}/features"
STIMULI = f"{FEATURES}/stimuli.tsv"


def features(space: str = "{space}") -> str:
    """Name a feature space's values for every stimulus (z, c, z_c and U-Net spaces: ``spaces``)."""
    return f"{FEATURES}/{space}.npy"


def feature_chunk(target: str = "{target}", chunk="{chunk}") -> str:
    """Name one chunk of the stimuli's z or c."""
    return f"{FEATURES}/{target}/chunk{chunk}.npy"


def diffusion_chunk(level: str = "{level}", chunk="{chunk}") -> str:
    """Name one chunk of the stimuli's diffusion features at a noise level: a folder of one array per space."""
    return f"{FEATURES}/diffusion{level}/chunk{chunk}"


# --- decoders ---------------------------------------------------------------------------------------
DECODE = f"{RESULTS}/decode"
# the validity analysis's controls reconstructed as pseudo-subjects: their "decoded" z and c
CONTROLS = f"{RESULTS}/validity/controls"


def decoded(target: str = "{target}", subject: str = "{subject}", controls: bool = False) -> str:
    """Name a subject's decoded z or c of the test images (a generated control's, with ``controls``)."""
    return f"{CONTROLS if controls else DECODE}/{subject}/{target}_test.npy"


def decode_alphas(target: str = "{target}", subject: str = "{subject}") -> str:
    """Name the alpha each target of a decoder chose."""
    return f"{DECODE}/{subject}/{target}_alphas.npy"


def decode_scores(by: str, target: str = "{target}", subject: str = "{subject}") -> str:
    """Name a decoder's test r per target or per image (``by``: 'targets', 'images')."""
    return f"{DECODE}/{subject}/{target}_scores_{by}.tsv"


# --- the decoded text prompt (method text) ----------------------------------------------------------
TEXT = f"{RESULTS}/text"
# per subject and source (decoded, ceiling, chance): mean caption scores and attribute accuracy (toy world)
TEXT_SUMMARY = f"{TEXT}/summary.tsv"


def captions(subject: str = "{subject}") -> str:
    """Name a subject's caption table: per test image the decoded caption, the ceiling's and the true ones."""
    return f"{TEXT}/{subject}/captions.tsv"


def caption_c(subject: str = "{subject}") -> str:
    """Name the c (CLIP embedding) of a subject's decoded captions: method text's c."""
    return f"{TEXT}/{subject}/caption_c.npy"


def caption_scores(subject: str = "{subject}", table: str = "images") -> str:
    """Name a subject's caption scores per test image and source ('images') or per source ('summary')."""
    return f"{TEXT}/{subject}/scores_{table}.tsv"


# --- the GAN init (methods gan and gan_text) ---------------------------------------------------------
def vgg19_features(layers) -> dict[str, str]:
    """Name the stored VGG19 features of every stimulus, one array (and its ids) per layer: {layer: ..., layer_ids: ...}."""
    out = {}
    for layer in layers:
        out.update(with_ids(layer, features(f"vgg19-{layer}")))
    return out


def decoded_vgg19(layers, subject: str = "{subject}") -> dict[str, str]:
    """Name a subject's decoded VGG19 features of the test images, per layer (with ids)."""
    out = {}
    for layer in layers:
        out.update(with_ids(layer, decoded(f"vgg19-{layer}", subject)))
    return out


# --- reconstructions --------------------------------------------------------------------------------
RECONSTRUCT = f"{RESULTS}/reconstruct"


def reconstruction_chunk(method: str = "{method}", subject: str = "{subject}", chunk="{chunk}") -> str:
    """Name a folder of one chunk of a method's reconstructions (``<73k id>_<sample>.png``)."""
    return f"{RECONSTRUCT}/{subject}/{method}/chunk{chunk}"


def manifest(method: str = "{method}", subject: str = "{subject}") -> str:
    """Name the list of every reconstruction of a subject's method: 73k id, sample, file."""
    return f"{RECONSTRUCT}/{subject}/{method}/manifest.tsv"


# --- evaluation of reconstructions ------------------------------------------------------------------
EVALUATE = f"{RESULTS}/evaluate"
ORIGINALS = f"{EVALUATE}/originals.npz"
SCORES = f"{EVALUATE}/scores.tsv"
IDENTIFICATION = f"{EVALUATE}/identification.tsv"
COMMUNITY_TABLE = f"{EVALUATE}/community_table.tsv"
COMMUNITY_MARKDOWN = f"{EVALUATE}/community_table.md"


def scores(method: str = "{method}", subject: str = "{subject}") -> str:
    """Name the scores of a subject's method: every metric per test image."""
    return f"{EVALUATE}/{subject}/{method}_scores.tsv"


# --- reconstruction or retrieval (the validity analysis) --------------------------------------------
VALIDITY = f"{RESULTS}/validity"
VALIDITY_FEATURES = f"{VALIDITY}/features.npz"
VALIDITY_SUMMARY = f"{VALIDITY}/summary.tsv"
VALIDITY_REPORT = f"{VALIDITY}/report.md"


def validity(table: str, subject: str = "{subject}") -> str:
    """Name a table of a subject's validity analysis (novelty, scores, summary, tests, collapse)."""
    return f"{VALIDITY}/{subject}/{table}.tsv"


# --- encoding models --------------------------------------------------------------------------------
ENCODE = f"{RESULTS}/encode"
# the files of each kind of model, in its folder (the keys are sdbrain.linear.encode_maps's)
SINGLE = {"r": "r.nii.gz", "p": "p.nii.gz", "fdr": "fdr_mask.nii.gz", "nc": "r2_over_nc.nii.gz", "table": "voxels.tsv",
          "pca": "pca_explained_variance.tsv", "png": "r_slices.png"}
JOINT = {"r": "r.nii.gz", "fdr": "fdr_mask.nii.gz", "unique_z": "unique_z.nii.gz",
         "unique_other": "unique_{space}.nii.gz", "table": "voxels.tsv", "png": "unique_slices.png"}
BANDED = {**JOINT, "split_z": "split_z.nii.gz", "split_other": "split_{space}.nii.gz"}
LAYERS = {"nifti": "best_layer.nii.gz", "table": "best_layer.tsv", "png": "best_layer_slices.png"}


def model(name: str = "{space}", subject: str = "{subject}") -> str:
    """Name the folder of one encoding model.

    The model is a space, a joint model 'z+<space>' (its banded one: 'z+<space>/banded'), or a group of
    U-Net layers at one step.
    """
    return f"{ENCODE}/{subject}/{name}"


def model_files(kind: dict[str, str], name: str = "{space}", subject: str = "{subject}",
                other: str = "{space}") -> dict[str, str]:
    """Name the files of one model of ``kind`` (``SINGLE``, ``JOINT``, ``BANDED``, ``LAYERS``): {key: file}.

    ``other``: the space modelled jointly with z.
    """
    return {key: f"{model(name, subject)}/{file.replace('{space}', other)}" for key, file in kind.items()}


def model_file(kind: dict[str, str], key: str, name: str = "{space}", subject: str = "{subject}",
               other: str = "{space}") -> str:
    """Name one file of ``model_files``."""
    return model_files(kind, name, subject, other)[key]


def joint(space: str = "{space}") -> str:
    """Name the joint model of z and ``space``."""
    return f"z+{space}"


def banded(space: str = "{space}") -> str:
    """Name the banded joint model of z and ``space``."""
    return f"z+{space}/banded"


def encode_summary(table: str, subject: str = "{subject}") -> str:
    """Name a subject's per-ROI summary of its models ('roi', 'unique', 'layer')."""
    return f"{ENCODE}/{subject}/{table}_summary.tsv"


def joint_comparison(table: str, subject: str = "{subject}") -> str:
    """Name a comparison of the concatenated and banded joint models ('comparison', 'agreement')."""
    return f"{ENCODE}/{subject}/joint_{table}.tsv"


# --- flatmaps, the viewer and the figures -----------------------------------------------------------
def flatmap(name: str, subject: str = "{subject}") -> str:
    """Name one flatmap of a subject (e.g. 'rois', 'z_r', 'z+zc0.5_unique')."""
    return f"{RESULTS}/flatmaps/{subject}/{name}.png"


def viewer(subject: str = "{subject}") -> str:
    """Name a subject's WebGL viewer (its folder holds the surfaces and one image per map)."""
    return f"{RESULTS}/viewer/{subject}/index.html"


def viewer_layers(subject: str = "{subject}") -> str:
    """Name the table of the maps of a subject's viewer, one row each."""
    return f"{RESULTS}/viewer/{subject}/layers.tsv"


def figure(name: str, suffix: str = "png") -> str:
    """Name a figure of the paper or of the analyses (e.g. 'fig3_subj01', 'fig5', 'validity')."""
    return f"{RESULTS}/figures/{name}.{suffix}"


# --- the run's report --------------------------------------------------------------------------------
REPORT = f"{RESULTS}/report"
RUN_CONFIG = f"{REPORT}/config.yaml"
PROVENANCE = f"{REPORT}/provenance.yaml"
RUN_LOGS = f"{REPORT}/logs.txt"
RULE_TIMES = f"{REPORT}/rule_times.md"

# --- human ratings -----------------------------------------------------------------------------------
RATE = f"{RESULTS}/rate"
RATE_TRIALS = f"{RATE}/trials.tsv"
RATE_SESSION = f"{RATE}/session.json"
RATE_IMAGES = f"{RATE}/images"
RATE_DATABASE = f"{RATE}/ratings.sqlite"
RATE_ANSWERS = f"{RATE}/answers.tsv"
RATE_ACCURACY = f"{RATE}/accuracy.tsv"
RATE_AGREEMENT = f"{RATE}/agreement.tsv"
RATE_MARKDOWN = f"{RATE}/accuracy.md"


def pycortex_transform(pycortex_dir: str, subject: str = "{subject}", xfm: str = "{xfm}") -> str:
    """Name the transform that importing an NSD subject writes into the workflow's pycortex filestore."""
    return f"{pycortex_dir}/db/{subject}/transforms/{xfm}/matrices.xfm"
