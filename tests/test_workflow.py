"""The Snakemake wiring: dry runs of the default and NSD configs, and a tiny toy run end to end."""
import base64
import copy
import functools
import json
import shutil
import subprocess
import sys

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
import yaml

from configs import TINY
from conftest import ROOT, TWO_AT_A_TIME, snakemake
from sdbrain.data import ingest
from sdbrain.data.io import read_ids


def planned_jobs(stdout: str) -> dict[str, int]:
    """The 'Job stats' table of a dry run as {rule: count}."""
    lines = stdout.split("Job stats:")[1].splitlines()[3:]
    jobs = {}
    for line in lines:
        parts = line.split()
        if len(parts) != 2 or parts[0] == "total":
            break
        jobs[parts[0]] = int(parts[1])
    return jobs


DEFAULT_JOBS = {
        "toy_grid": 1, "toy_nsd": 1, "split": 1, "ingest": 2, "model_summary": 1, "stimuli": 1,
        # one chunk each (features.n_chunks, reconstruct.n_chunks: 1 on 2 cores)
        "features": 2, "diffusion_features": 3, "features_merge": 23, "decode": 4,
        # 3 methods x 2 subjects and the controls ceiling and mean
        "reconstruct": 6 + 2, "reconstruct_manifest": 6 + 2,
        "fig3": 2, "fig4": 1, "eval_originals": 1, "evaluate": 6, "eval_summary": 1,
        "validity_controls": 1, "validity_features": 1, "validity": 2, "validity_summary": 1,
        # per subject z and c; each noise level's zc and z + zc in one job; the step level's zc at 3 steps,
        # 5 U-Net layers x 3 steps, the 3 joint models and 3 best-layer maps in one job
        "encode": 2 * 2, "encode_level": 2 * 3, "encode_steps": 2 * 1, "encode_summary": 2,
        "flatmap_rois": 2, "flatmaps": 2, "viewer": 2, "encoding_figure": 4, "run_config": 1, "run_logs": 1,
        "rate_trials": 1,
        "all": 1}


def test_default_config_dry_run(tmp_path):
    result = snakemake("-n", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert planned_jobs(result.stdout) == DEFAULT_JOBS


LAB_SNAKEFILE = """configfile: "config/config.yaml"


module sdbrain:
    snakefile:
        "{snakefile}"
    config:
        config


use rule * from sdbrain
"""


def test_the_workflow_as_a_snakemake_module(tmp_path):
    """A lab's own folder, with its own config and a Snakefile that uses the workflow as a module (by local path):
    a dry run plans the default DAG, and a job runs there with the workflow's script and its shipped toy model
    (resources/toy_sd, not in the lab's folder), writing into the lab's results/."""
    (tmp_path / "config").mkdir()
    shutil.copy(ROOT / "config/config.yaml", tmp_path / "config/config.yaml")
    (tmp_path / "Snakefile").write_text(LAB_SNAKEFILE.format(snakefile=ROOT / "Snakefile"))
    run = functools.partial(subprocess.run, capture_output=True, text=True, cwd=tmp_path, timeout=900)
    result = run([sys.executable, "-m", "snakemake", "-n"])
    assert result.returncode == 0, result.stderr[-3000:]
    assert planned_jobs(result.stdout) == DEFAULT_JOBS
    result = run([sys.executable, "-m", "snakemake", "model_summary", "--cores", "1", "--resources", "gpu=1"])
    assert result.returncode == 0, result.stderr[-3000:]
    summary = pd.read_csv(tmp_path / "results/model/summary.tsv", sep="\t").set_index("component")
    assert summary.loc["z", "detail"] == "4x16x16 at 64px", "the shipped trained toy model"
    assert not (tmp_path / "resources").exists()


def test_nsd_config_dry_run_plans_every_subject(toy_tree, tmp_path):
    """The NSD config as shipped, pointed at a toy tree: the per-subject DAG, no toy rules."""
    result = snakemake("-n", "--configfile", str(ROOT / "config/nsd.yaml"), "--config", f"nsd_root={toy_tree.root}",
                       f"model_dir={tmp_path}", f'text={{"captioner_dir": "{tmp_path}"}}',
                       f'gan={{"encoder_dir": "{tmp_path}", "generator_dir": "{tmp_path}"}}', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = planned_jobs(result.stdout)
    # method text (the technical report's decoded caption) with the released recipe: BLIP's tokens of every
    # stimulus, a third decoder per subject, captions, their c and scores, and a fourth method; the GAN init:
    # VGG19's features, eight more decoders per subject, an iCNN image per test image (gan) and gan_text
    assert jobs == {"split": 1, "ingest": 4, "model_summary": 1, "stimuli": 1, "features": 2 * 40,
                    "diffusion_features": 3 * 40, "features_merge": 23, "blip_features": 1, "decode": (3 + 8) * 4,
                    "captions": 4, "caption_c": 4, "caption_scores": 4, "text_summary": 1, "vgg19_features": 1,
                    "icnn": 4 * 40, "reconstruct": 5 * 4 * 40 + 2 * 40,
                    "reconstruct_manifest": 4 * 6 + 2, "fig3": 4, "fig4": 1, "eval_originals": 1, "evaluate": 4 * 6,
                    "eval_summary": 1, "validity_controls": 1, "validity_features": 1, "validity": 4,
                    "validity_summary": 1, "encode": 4 * 2, "encode_level": 4 * 3, "encode_steps": 4 * 1,
                    "encode_summary": 4, "pycortex_import": 4, "flatmap_rois": 4, "flatmaps": 4, "viewer": 4,
                    "encoding_figure": 4, "run_config": 1, "run_logs": 1, "rate_trials": 1, "all": 1}
    for subject in ("subj01", "subj02", "subj05", "subj07"):
        assert f"results/fmri/{subject}/train_early.npy" in result.stdout
        assert f"results/reconstruct/{subject}/zc0.8/chunk39" in result.stdout
        assert f"results/reconstruct/{subject}/gan/chunk39" in result.stdout
        assert f"results/decode/{subject}/vgg19-conv1_2_test.npy" in result.stdout
    # FreeSurfer's import waits for rule split's check of the NSD tree
    imports = [block for block in result.stdout.split("\nrule ")[1:] if block.startswith("pycortex_import:")]
    assert len(imports) == 4 and all("input: results/fmri/inventory.tsv" in block for block in imports)



def test_slurm_profile_dry_run_on_nsd_sends_gpu_rules_to_the_gpu_partition(toy_tree, tmp_path):
    """`snakemake -n --workflow-profile profiles/slurm --configfile config/nsd.yaml`: what each job asks for."""
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
         "--workflow-profile", str(ROOT / "profiles/slurm"), "-n", "--configfile", str(ROOT / "config/nsd.yaml"),
         "--config", f"nsd_root={toy_tree.root}", f"model_dir={tmp_path}", f'text={{"captioner_dir": "{tmp_path}"}}',
                       f'gan={{"encoder_dir": "{tmp_path}", "generator_dir": "{tmp_path}"}}'],
        capture_output=True, text=True, cwd=tmp_path, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    resources = {}
    for block in result.stdout.split("\nrule ")[1:]:
        line = next(ln for ln in block.splitlines() if ln.strip().startswith("resources:"))
        resources.setdefault(block.split(":")[0], line)
    gpu_rules = {"features", "diffusion_features", "decode", "reconstruct", "eval_originals", "evaluate",
                 "validity_features", "encode", "encode_level", "encode_steps", "blip_features", "captions", "caption_c",
                 "vgg19_features", "icnn"}
    for rule, line in resources.items():
        if rule in gpu_rules:
            assert "gpu=1" in line and "slurm_partition=gpu" in line and "cpus_per_gpu=4" in line, (rule, line)
        else:
            assert "gpu=" not in line and "slurm_partition=cpu" in line, (rule, line)
        assert "mem_mb=" in line and "runtime=" in line, (rule, line)
    assert gpu_rules <= set(resources)


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    work = tmp_path_factory.mktemp("tiny")
    (work / "tiny.yaml").write_text(yaml.safe_dump(TINY))
    result = snakemake("--cores", "2", "--configfile", "tiny.yaml", *TWO_AT_A_TIME, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return work


def test_tiny_toy_run_end_to_end(tiny_run):
    work = tiny_run
    for subject in ("subj01", "subj02"):
        out = work / "results/fmri" / subject
        report = pd.read_csv(out / "ingest_report.tsv", sep="\t").set_index("roi")
        assert set(report.index) == {"early", "ventral", "six_streams", "brain"}
        assert report.loc["six_streams", "voxels"] == 1678 + 112 + 1004 + 1242, "streams 1, 3, 5 and 7 of the toy"
        assert report.loc["early", "voxels"] == 1678, "V1+V2+V3 of pycortex's S1"
        x, ids, _ = ingest.load_betas(out, "brain", "train")
        truth = np.load(work / "results/toy/truth" / f"{subject}.npz")
        assert x.shape[1] == truth["voxels"].size
        row = {int(i): r for r, i in enumerate(truth["signal_ids"])}
        residual = x - truth["signal"][[row[int(i)] for i in ids]]
        assert residual.std() == pytest.approx(1.0, rel=0.02)
    assert np.array_equal(read_ids(work / "results/fmri/subj01/test_ids.tsv"), read_ids(work / "results/fmri/test_ids.tsv"))
    summary = pd.read_csv(work / "results/model/summary.tsv", sep="\t").set_index("component")
    assert summary.loc["z", "detail"] == "4x16x16 at 32px"
    for log in ("toy/grid", "toy/nsd", "toy/model", "fmri/split", "fmri/ingest_subj01", "model/summary"):
        assert (work / "logs" / f"{log}.log").stat().st_size > 0
    for subject in ("subj01", "subj02"):
        for target in ("z", "c"):
            scores = pd.read_csv(work / f"results/decode/{subject}/{target}_scores_images.tsv", sep="\t")
            assert np.array_equal(scores["nsd_id"], read_ids(work / "results/fmri/test_ids.tsv"))
        for method, samples in (("z", 1), ("c", 2), ("zc0.5", 2), ("text", 2)):
            manifest = pd.read_csv(work / f"results/reconstruct/{subject}/{method}/manifest.tsv", sep="\t")
            assert len(manifest) == 6 * samples and set(manifest["sample"]) == set(range(samples))
    summary = pd.read_csv(work / "results/evaluate/identification.tsv", sep="\t")
    # recipes takagi (7 metrics) and mindeye (6 networks, PixCorr, SSIM)
    assert len(summary) == 2 * 6 * (7 + 8) and (summary["n_images"] == 6).all()  # z, c, zc0.5, text, gan, gan_text
    assert set(summary["protocol"]) == {"takagi", "mindeye"}
    paper = summary[summary["protocol"] == "takagi"]
    assert paper["mean"].between(0, 1).all()
    table = (work / "results/evaluate/community_table.md").read_text()
    assert "MindEye2 (published" in table and "| mindeye |" in table and "braindiffuser" not in table
    assert "seeded random weights" in table
    for subject in ("subj01", "subj02"):
        encode = work / "results/encode" / subject
        roi = pd.read_csv(encode / "roi_summary.tsv", sep="\t")
        steps = [f"zc0.5-{step}" for step in ("early", "middle", "late")]
        layers = [f"unet0.5-{layer}-{step}" for layer in ("down1", "down2", "mid", "up1", "up2")
                  for step in ("early", "middle", "late")]
        assert set(roi["space"]) == {"z", "c", "zc0.5", *steps, *layers} and {"early", "ventral"} <= set(roi["roi"])
        r_map = nib.load(encode / "z/r.nii.gz")
        assert r_map.shape == (100, 100, 31), "maps are in the subject's functional space (NIfTI X, Y, Z)"
        assert np.isfinite(np.asarray(r_map.dataobj)).sum() == 47530
        unique = pd.read_csv(encode / "unique_summary.tsv", sep="\t")
        assert set(unique["joint"]) == {"z+zc0.5", *(f"z+{s}" for s in steps)}
        joint = pd.read_csv(encode / "z+zc0.5/voxels.tsv", sep="\t")
        r_z = pd.read_csv(encode / "z/voxels.tsv", sep="\t")["r"].clip(lower=0)
        assert np.allclose(joint["unique_zc0.5"], joint["r"].clip(lower=0) ** 2 - r_z ** 2, equal_nan=True)
        for name in ("unique_z", "unique_zc0.5", "r", "fdr_mask"):
            assert nib.load(encode / f"z+zc0.5/{name}.nii.gz").shape == (100, 100, 31)
        for step in ("early", "middle", "late"):
            best = np.asarray(nib.load(encode / f"unet0.5-{step}/best_layer.nii.gz").dataobj)
            assert best.shape == (100, 100, 31) and set(np.unique(best)) <= {0, 1, 2, 3, 4, 5}
        assert (work / "results/features/unet0.5-up2-late.npy").exists()
    for subject in ("subj01", "subj02"):
        flat = work / "results/flatmaps" / subject
        names = {p.name for p in flat.glob("*.png")}
        assert {"rois.png", "z_r.png", "c_r.png", "z+zc0.5_unique.png", "unet0.5-late_best_layer.png"} <= names
        assert len(names) == 1 + 21 + 4 + 3, "ROIs, every single-space r map, every joint model, every step"
    # method text: BLIP's tokens decoded in blocks (decode.per_target.blip.memory_mb), captions, their scores
    assert "streamed in blocks of targets" in (work / "logs/decode/subj01_blip.log").read_text()
    text = pd.read_csv(work / "results/text/summary.tsv", sep="\t")
    assert list(text["source"]) == ["decoded", "ceiling", "chance"] * 2
    assert {"bleu4", "rouge_l", "cider", "clip", "shape", "colour", "background"} <= set(text.columns)
    assert text[["bleu4", "rouge_l", "clip", "shape", "colour", "background"]].stack().between(-1, 1).all()
    captions = pd.read_csv(work / "results/text/subj01/captions.tsv", sep="\t", keep_default_na=False)
    assert np.array_equal(captions["nsd_id"], read_ids(work / "results/fmri/test_ids.tsv"))
    assert (captions["decoded"].str.len() > 0).all() and captions["true"].str.startswith('["').all()
    validity = pd.read_csv(work / "results/validity/subj01/summary.tsv", sep="\t")
    assert {"text", "caption_retrieval"} <= set(validity["method"])
    for figure in ("fig3_subj01", "fig3_subj02", "fig4", "fig5", "fig6", "fig7", "fig8", "fig9"):
        assert (work / f"results/figures/{figure}.png").stat().st_size > 10_000
        assert (work / f"results/figures/{figure}.pdf").exists()
    # pycortex wrote its config and caches into the workflow's folders
    assert (work / "results/pycortex/config/pycortex/options.cfg").exists()


def test_report_holds_every_figure_and_table(tiny_run):
    result = snakemake("--configfile", "tiny.yaml", "--report", "report.html", cwd=tiny_run)
    assert result.returncode == 0, result.stderr[-3000:]
    html = (tiny_run / "report.html").read_text()
    assert len(html) > 100_000
    for name in ["fig3_subj01.png", "fig3_subj02.png", "fig4.png", "fig5.png", "fig6.png", "fig7.png", "fig8.png",
                 "fig9.png", "identification.tsv", "community_table.tsv", "roi_summary.tsv", "unique_summary.tsv",
                 "layer_summary.tsv", "config.yaml", "logs.txt", "rois.png", "z+zc0.5_unique.png",
                 "unet0.5-early_best_layer.png"]:
        assert name in html, name
    assert "seeded random weights" in html, "the toy model's random weights are said in the report"


def test_figures_target_plans_figs_3_to_9(tiny_run):
    result = snakemake("figures", "-n", "--configfile", "tiny.yaml", "--forcerun", "encoding_figure", cwd=tiny_run)
    assert result.returncode == 0, result.stderr[-2000:]
    assert planned_jobs(result.stdout) == {"encoding_figure": 4, "figures": 1}


def test_tiny_toy_run_is_complete_and_rerun_does_nothing(tiny_run):
    result = snakemake("-n", "--configfile", "tiny.yaml", cwd=tiny_run)
    assert result.returncode == 0 and "Nothing to be done" in result.stdout + result.stderr


def test_two_reconstruction_chunks_make_the_images_of_one(tiny_run, tmp_path):
    """reconstruct.n_chunks splits a method's test images into jobs of whole batches, and its manifest
    gathers them: in a copy of the tiny run (one chunk; times and Snakemake's records kept), two chunks
    of subj01's X_zc rerun only those jobs and give the same images, byte for byte."""
    work = tmp_path / "chunked"
    shutil.copytree(tiny_run, work, symlinks=True)
    config = copy.deepcopy(TINY)
    config["reconstruct"]["n_chunks"] = 2
    (work / "chunked.yaml").write_text(yaml.safe_dump(config))
    target = "results/reconstruct/subj01/zc0.5/manifest.tsv"
    result = snakemake(target, "--cores", "2", "--configfile", "chunked.yaml", *TWO_AT_A_TIME, cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    assert planned_jobs(result.stderr) == {"reconstruct": 2, "reconstruct_manifest": 1}
    chunked = pd.read_csv(work / target, sep="\t")
    one = pd.read_csv(tiny_run / target, sep="\t")
    assert chunked[["nsd_id", "sample"]].equals(one[["nsd_id", "sample"]]) and len(one) == 6 * 2
    folders = chunked["path"].str.extract(r"/(chunk\d)/")[0]
    assert folders.value_counts().to_dict() == {"chunk0": 4 * 2, "chunk1": 2 * 2}, "batches of 4 images"
    for mine, theirs in zip(chunked["path"], one["path"]):
        assert (work / mine).read_bytes() == (tiny_run / theirs).read_bytes(), mine


def plan_after_edit(work, tmp_path, section: str, key: str, value) -> dict[str, int]:
    """The jobs a dry run plans on the finished tiny run once ``section.key`` of its config is ``value``."""
    config = copy.deepcopy(TINY)
    config.setdefault(section, {})[key] = value
    (tmp_path / "edited.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", str(tmp_path / "edited.yaml"), cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return planned_jobs(result.stdout)


# Every edit reruns run_config (it records the whole config), and run_logs and all, which take
# every output as input. Snakemake also plans each job downstream of a rerun job, since its
# input will change; nothing else: no job that does not read the edited key reruns.
REPORT = {"run_config": 1, "run_logs": 1, "all": 1}


def test_a_new_strength_plans_only_its_reconstructions_and_their_readers(tiny_run, tmp_path):
    # zc0.75 beside zc0.5 (still the main method: Figs. 3-4 and the validity controls keep it);
    # no diffusion feature or existing reconstruction reads reconstruct.strengths
    assert plan_after_edit(tiny_run, tmp_path, "reconstruct", "strengths", [0.5, 0.75]) == {
        # 2 subjects (one chunk each), and the new method's manifests and scores
        "reconstruct": 2, "reconstruct_manifest": 2, "evaluate": 2, "eval_summary": 1,
        # the validity analysis scores every method (rule validity's methods) and its features read every manifest
        "validity_features": 1, "validity": 2, "validity_summary": 1,
        # the rating trials are drawn from every method's reconstructions
        "rate_trials": 1, **REPORT}


def test_a_new_noise_level_plans_only_its_models(tiny_run, tmp_path):
    # 0.75 after 0.5 (the tiny run's 2 steps leave no denoising step below 0.5: refused at parse time);
    # the existing levels' features, models and maps are untouched, the per-subject maps and tables
    # that list every model rerun
    assert plan_after_edit(tiny_run, tmp_path, "encode", "noise_levels", [0.5, 0.75]) == {
        # z_c at s = 0.75 in 2 chunks (without the steps and layers of encode.step_levels), merged
        "diffusion_features": 2, "features_merge": 1,
        # its model and its joint model with z (one job) for 2 subjects
        "encode_level": 2,
        # per subject: the ROI tables, the flatmaps and the viewer of every model; Fig. 7's new row
        # and Fig. 6's z_c row, the middle level (now 0.75)
        "encode_summary": 2, "flatmaps": 2, "viewer": 2, "encoding_figure": 2, **REPORT}


def recorded_params(work, output: str) -> list[str]:
    """The params Snakemake recorded for the job that wrote ``output`` (its rerun trigger)."""
    name = base64.urlsafe_b64encode(output.encode()).decode()
    return json.loads((work / ".snakemake/metadata" / name).read_text())["params"]


def test_level_jobs_record_the_unet_layers_only_where_they_are_read(tiny_run):
    # the final z_c's models (encode_level) do not read features.unet_layers: an edit of it must not
    # rerun them where their features stay; the step level's models (encode_steps) draw the best layer
    layers = repr(list(TINY["features"]["unet_layers"]))
    assert layers not in recorded_params(tiny_run, "results/encode/subj01/zc0.5/r.nii.gz")
    assert layers in recorded_params(tiny_run, "results/encode/subj01/zc0.5-early/r.nii.gz")


def test_evaluate_batch_size_plans_only_the_feature_networks(tiny_run, tmp_path):
    # (every job that took the evaluate section read batch_size already: the same plan as before)
    assert plan_after_edit(tiny_run, tmp_path, "evaluate", "batch_size", 8) == {
        # the jobs that run the evaluation networks: originals, 4 methods x 2 subjects, the validity features
        "eval_originals": 1, "evaluate": 12, "validity_features": 1,
        # downstream of them
        "eval_summary": 1, "validity": 2, "validity_summary": 1, **REPORT}


def test_banded_joint_models_plan_only_the_banded_rules(tiny_run, tmp_path):
    # the single and concatenated joint models do not read encode.joint: they stay
    assert plan_after_edit(tiny_run, tmp_path, "encode", "joint", "banded") == {
        # z + zc0.5 and z + zc0.5 at 3 steps for 2 subjects, compared per subject, and their flatmaps
        "encode_banded": 8, "encode_compare": 2, "flatmaps_banded": 2, **REPORT}
