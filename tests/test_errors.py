"""Bad input: one sentence naming the file or key, and nothing half-written."""
import nibabel as nib
import numpy as np
import pytest
import yaml

from conftest import snakemake, write_nsd_config
from sdbrain.data import ingest, nsd
from sdbrain.errors import InputError
from sdbrain.sd import pipeline

SUBJECTS, SESSIONS = ["subj01", "subj02"], [1, 2, 3]
FILES = {"streams", "brainmask"}


def check(layout, subjects=SUBJECTS):
    with pytest.raises(InputError) as err:
        nsd.check_tree(layout, subjects, SESSIONS, FILES)
    message = str(err.value)
    assert "\n" not in message
    return message


def test_intact_tree_passes(toy_tree):
    nsd.check_tree(toy_tree, SUBJECTS, SESSIONS, FILES)


def test_missing_session_file(copy_tree):
    path = copy_tree.betas("subj02", 2)
    path.unlink()
    message = check(copy_tree)
    assert f"{path}: missing" in message and "1 problem" in message


def test_truncated_hdf5(copy_tree):
    path = copy_tree.betas("subj01", 3)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    assert f"{path}: not a readable HDF5 file" in check(copy_tree)


def test_roi_of_the_wrong_shape(copy_tree):
    path = copy_tree.roi("subj01", "streams")
    image = nib.load(path)
    nib.save(nib.Nifti1Image(np.zeros((5, 5, 5), dtype=np.int16), image.affine), path)
    message = check(copy_tree)
    assert str(path) in message and "differs" in message


def test_unknown_subject(toy_tree):
    message = check(toy_tree, SUBJECTS + ["subj07"])
    assert "subject 'subj07' not found" in message


def test_every_problem_is_listed(copy_tree):
    copy_tree.betas("subj01", 1).unlink()
    copy_tree.betas("subj02", 3).unlink()
    message = check(copy_tree)
    assert "2 problems" in message and "betas_session01" in message and "betas_session03" in message


def test_session_missing_from_responses(toy_tree):
    with pytest.raises(InputError, match="no trials for session 4"):
        nsd.check_tree(toy_tree, SUBJECTS, [1, 4], FILES)


def test_empty_roi(toy_tree, tmp_path):
    with pytest.raises(InputError, match=r"ROI 'v4' is empty: no voxel of .*streams.nii.gz has label\(s\) \[2\]"):
        ingest.ingest_subject(toy_tree, "subj01", [1], {"v4": ingest.RoiLabels("streams", (2,))}, np.array([1]), tmp_path)
    assert not list(tmp_path.iterdir()), "no partial output"


def test_model_dir_missing_or_incomplete(tmp_path):
    with pytest.raises(InputError, match="is not a directory"):
        pipeline.check_model_dir(tmp_path / "nowhere")
    (tmp_path / "m").mkdir()
    with pytest.raises(InputError, match="no model_index.json"):
        pipeline.check_model_dir(tmp_path / "m")
    (tmp_path / "m" / "model_index.json").write_text('{"vae": ["diffusers", "AutoencoderKL"]}')
    (tmp_path / "m" / "vae").mkdir()
    with pytest.raises(InputError, match=r"missing component\(s\) \['vae', 'text_encoder', 'tokenizer', 'unet', 'scheduler'\]"):
        pipeline.check_model_dir(tmp_path / "m")


def test_config_value_of_the_wrong_type(tmp_path):
    result = snakemake("-n", "--config", "sessions=abc", cwd=tmp_path)
    assert result.returncode != 0
    assert "ERROR: config key 'sessions': 'abc' is not of type 'array'" in result.stderr
    result = snakemake("-n", "--config", "subjects=[subj09]", cwd=tmp_path)
    assert result.returncode != 0 and "config key 'subjects[0]'" in result.stderr


def test_toy_world_on_one_pycortex_subject(tmp_path):
    """The toy world is generated on one pycortex subject's grid (toy_grid) and drawn on it (flatmaps):
    both read flatmaps.pycortex_subject and xfm, which must then name one subject."""
    (tmp_path / "bad.yaml").write_text("flatmaps:\n  pycortex_subject: '{subject}'\n")
    result = snakemake("-n", "--configfile", "bad.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert "ERROR: config key 'flatmaps.pycortex_subject': the toy world needs one pycortex subject" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("strength, message", [(1.5, "1.5 is greater than the maximum of 1"),
                                               (0, "0 is less than or equal to the minimum of 0")])
def test_strength_outside_zero_one(tmp_path, strength, message):
    """img2img strength must lie in (0, 1]: refused by the schema before anything runs."""
    (tmp_path / "bad.yaml").write_text(f"reconstruct:\n  strengths: [{strength}]\n")
    result = snakemake("-n", "--configfile", "bad.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert f"ERROR: config key 'reconstruct.strengths[0]': {message}" in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


@pytest.mark.parametrize("key, level", [("reconstruct.strengths", 0.05), ("encode.noise_levels", 0.25),
                                        ("encode.step_levels", 0.25), ("text.strength", 0.25)])
def test_strength_without_a_denoising_step(tmp_path, key, level):
    """A strength or noise level with int(steps x s) < 1 would run no DDIM step: refused at parse time, naming
    the key, before any feature or reconstruction job starts (here with reconstruct.steps 2)."""
    config = {"reconstruct": {"steps": 2, "strengths": [0.5]}, "encode": {"noise_levels": [0.5], "step_levels": [0.5]},
              "text": {"enabled": True, "strength": 0.5}}
    section, name = key.split(".")
    config[section][name] = level if key == "text.strength" else [level]
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    result = snakemake("-n", "--configfile", "bad.yaml", cwd=tmp_path)
    assert result.returncode != 0
    assert (f"ERROR: config key '{key}': strength {level:g} with 2 steps (reconstruct.steps) leaves no denoising "
            "step") in result.stderr
    assert not (tmp_path / "results").exists() and not (tmp_path / "logs").exists()


def test_profile_without_a_gpu_resource(tmp_path):
    """A local profile that does not bound GPU jobs is refused before anything runs."""
    import subprocess
    import sys

    from conftest import ROOT
    (tmp_path / "profile").mkdir()
    (tmp_path / "profile/config.yaml").write_text("cores: 2\n")
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "--workflow-profile", str(tmp_path / "profile")]
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode != 0
    assert "ERROR: the profile sets no 'gpu' resource" in result.stderr
    assert not (tmp_path / "results").exists()
    # the same profile with the resource runs (a dry run here)
    ok = subprocess.run(cmd + ["-n", "--resources", "gpu=1"], capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert ok.returncode == 0, ok.stderr[-2000:]


def test_workflow_stops_on_a_missing_session_without_output(copy_tree, tmp_path):
    copy_tree.betas("subj01", 2).unlink()
    work = tmp_path / "run"
    work.mkdir()
    config = write_nsd_config(work / "nsd.yaml", copy_tree.root, model_dir=tmp_path)
    result = snakemake("--cores", "1", "--configfile", str(config), "--until", "split", cwd=work)
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.startswith("ERROR:")]
    # the sentence is printed, and shown again from the rule's log by the profile's show-failed-logs
    assert len(set(lines)) == 1 and "1 problem" in lines[0] and "betas_session02.hdf5: missing" in lines[0]
    assert not (work / "results/fmri/test_ids.tsv").exists() and not (work / "results/fmri/inventory.tsv").exists()


def test_betas_of_the_wrong_dtype(copy_tree):
    import h5py
    path = copy_tree.betas("subj02", 1)
    with h5py.File(path, "r+") as f:
        data = f["betas"][:].astype(np.float32)
        del f["betas"]
        f["betas"] = data
    assert f"{path}: dataset 'betas' is float32 with 4 axes, expected int16" in check(copy_tree)


def test_stimulus_absent_from_imgbrick(toy_tree):
    with pytest.raises(InputError, match=r"nsd_stimuli.hdf5: imgBrick holds \d+ images; no image for 73k id\(s\) \[99999\]"):
        nsd.read_images(toy_tree, [1, 99999])


def test_image_without_captions(toy_tree, tmp_path):
    import yaml

    from conftest import ROOT
    from sdbrain.sd import features
    from sdbrain.toy import model as toy_model
    params = yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["model"]
    toy_model.build_random_pipeline(tmp_path / "sd", ["a", "red", "circle"], {**params, "image_size": 32,
                                                                              "vae_channels": [8, 16]})
    pipe = pipeline.load_pipeline(tmp_path / "sd")
    with pytest.raises(InputError, match=r"no caption for 73k id\(s\) \[7\]"):
        features.encode_c(pipe, [["a red circle"], []], np.array([3, 7]), batch_size=4)


def test_disk_full_leaves_no_partial_file(tmp_path, monkeypatch):
    """A write that fails half-way (ENOSPC) names the file and leaves neither it nor its temporary behind."""
    import errno

    from sdbrain.data import io

    def full_disk(path, array):
        with open(path, "wb") as fh:
            fh.write(b"\x93NUMPY half")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(io.np, "save", full_disk)
    with pytest.raises(InputError, match=r"z.npy: could not be written \(No space left on device\)"):
        io.save_array(tmp_path / "z.npy", np.zeros((3, 2)))
    assert list(tmp_path.iterdir()) == []


def test_data_paths_are_checked_outside_the_toy_world(tmp_path):
    from sdbrain.workflow.config import check_data_paths
    config = {"toy": {"enabled": False}, "nsd_root": str(tmp_path), "model_dir": str(tmp_path / "sd")}
    with pytest.raises(InputError, match=r"^config key 'model_dir': folder .*/sd does not exist"):
        check_data_paths(config)
    (tmp_path / "sd").mkdir()
    check_data_paths(config)
    # method text's BLIP folder, where it runs
    with pytest.raises(InputError, match=r"^config key 'text.captioner_dir': folder .*/blip does not exist"):
        check_data_paths({**config, "text": {"enabled": True, "captioner_dir": str(tmp_path / "blip")}})
    check_data_paths({**config, "text": {"enabled": False, "captioner_dir": str(tmp_path / "blip")}})
    # the GAN init's two folders, where it runs
    gan = {"encoder_dir": str(tmp_path / "vgg19"), "generator_dir": str(tmp_path)}
    with pytest.raises(InputError, match=r"^config key 'gan.encoder_dir': folder .*/vgg19 does not exist"):
        check_data_paths({**config, "gan": {"enabled": True, **gan}})
    check_data_paths({**config, "gan": {"enabled": False, **gan}})
    # the toy world builds both
    check_data_paths({**config, "toy": {"enabled": True}, "nsd_root": "results/toy/nsd", "model_dir": "nowhere"})


def test_nsd_dry_run_with_a_missing_nsd_root_stops_at_once(tmp_path):
    """`snakemake -n --configfile config/nsd.yaml --config nsd_root=/nonexistent`: one line, nothing planned."""
    import subprocess
    import sys

    from conftest import ROOT
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(tmp_path),
           "-n", "--configfile", str(ROOT / "config/nsd.yaml"), "--config", f"nsd_root={tmp_path / 'nonexistent'}",
           f"model_dir={tmp_path}", f'text={{"captioner_dir": "{tmp_path}"}}',
           f'gan={{"encoder_dir": "{tmp_path}", "generator_dir": "{tmp_path}"}}']
    result = subprocess.run(cmd, capture_output=True, text=True, cwd=tmp_path, timeout=300)
    assert result.returncode != 0
    errors = [line for line in result.stderr.splitlines() if "ERROR" in line]
    assert errors == [f"ERROR: config key 'nsd_root': folder {tmp_path / 'nonexistent'} does not exist "
                      "(set it in your config file or with --config nsd_root=/path)"]
    assert "Job stats" not in result.stdout and "rule split" not in result.stdout


def test_fault_injection_fails_only_the_first_attempt_of_the_rules_named(tmp_path, monkeypatch):
    """config key fault_injection.fail_first_attempt (tests of retries): the named rule's job fails once, with
    the key named; its retry, other jobs of the rule and other rules run."""
    from sdbrain.workflow import faults
    monkeypatch.chdir(tmp_path)
    settings = {"fail_first_attempt": ["decode"]}
    with pytest.raises(InputError, match="^config key 'fault_injection.fail_first_attempt': rule decode fails its "
                                         "first attempt on purpose$"):
        faults.injected_failure("decode", ["results/decode/subj01/z.npy"], settings)
    faults.injected_failure("decode", ["results/decode/subj01/z.npy"], settings)  # the retry
    with pytest.raises(InputError):
        faults.injected_failure("decode", ["results/decode/subj02/z.npy"], settings)
    faults.injected_failure("encode", ["results/encode/subj01/z"], settings)
    faults.injected_failure("decode", ["x"], {})
    assert len(list((tmp_path / "logs/fault_injection").iterdir())) == 2
