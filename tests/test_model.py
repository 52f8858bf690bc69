"""The SD-structured fixture loads through from_pretrained(local_dir), offline."""
import os
import subprocess
import sys

import pytest
import yaml

from conftest import ROOT
from sdbrain.toy import model as toy_model
from sdbrain.toy import world

PARAMS = yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["model"]
WORDS = sorted({w for scene in world.sample_scenes(40, __import__("numpy").random.default_rng(0))
                for c in world.captions(scene) for w in c.split()})


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("model") / "sd"
    toy_model.build_random_pipeline(out, WORDS, PARAMS)
    return out


def test_tokenizer_covers_the_toy_words():
    tokenizer = toy_model.build_tokenizer(WORDS, 77)
    assert tokenizer.model_max_length == 77
    ids = tokenizer("a small red circle on a blue background")["input_ids"]
    tokens = tokenizer.convert_ids_to_tokens(ids)
    assert tokens[0] == "<|startoftext|>" and tokens[-1] == "<|endoftext|>"
    assert tokens[1:-1] == ["a</w>", "small</w>", "red</w>", "circle</w>", "on</w>", "a</w>", "blue</w>", "background</w>"]
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a small red circle on a blue background"


def test_loads_offline_with_no_cache_and_generates(model_dir, tmp_path):
    """A fresh process, no hub cache, offline: loading and a 2-step generation work."""
    code = (
        f"import sys; sys.path.insert(0, {str(ROOT / 'workflow')!r})\n"
        "from sdbrain.sd.pipeline import load_pipeline\n"
        f"pipe = load_pipeline({str(model_dir)!r})\n"
        "assert len(pipe.tokenizer) > 500 and pipe.tokenizer.model_max_length == 77\n"
        "image = pipe('a red circle', num_inference_steps=2, height=64, width=64, output_type='np').images\n"
        "print(image.shape)\n")
    env = {**os.environ, "HF_HOME": str(tmp_path / "empty_hf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "(1, 64, 64, 3)" in result.stdout
    assert not (tmp_path / "empty_hf" / "hub").exists() or not any((tmp_path / "empty_hf" / "hub").iterdir())


def test_saved_in_diffusers_layout(model_dir):
    for component in ("vae", "text_encoder", "tokenizer", "unet", "scheduler"):
        assert (model_dir / component).is_dir()
    assert (model_dir / "model_index.json").exists()


# SD v1.4's scheduler/scheduler_config.json as published (a PNDM config; DDIM is built from it)
SD14_SCHEDULER = {"_class_name": "PNDMScheduler", "_diffusers_version": "0.7.0.dev0", "beta_end": 0.012,
                  "beta_schedule": "scaled_linear", "beta_start": 0.00085, "num_train_timesteps": 1000,
                  "set_alpha_to_one": False, "skip_prk_steps": True, "steps_offset": 1, "trained_betas": None,
                  "clip_sample": False}


def test_scheduler_is_checked_against_sd14(caplog):
    from sdbrain.sd import pipeline
    assert pipeline.scheduler_differences(SD14_SCHEDULER) == []
    changed = {**SD14_SCHEDULER, "beta_end": 0.02, "clip_sample": True, "steps_offset": 0}
    assert pipeline.scheduler_differences(changed) == ["beta_end 0.02 (SD v1.4: 0.012)", "clip_sample True (SD v1.4: False)",
                                                 "steps_offset 0 (SD v1.4: 1)"]
    # the shipped toy model differs on purpose (zero terminal SNR, v-prediction, trailing timesteps): named on loading
    with caplog.at_level("WARNING", logger="sdbrain"):
        pipe = pipeline.load_pipeline(ROOT / "resources/toy_sd")
    assert "scheduler differs from SD v1.4's DDIM settings: prediction_type 'v_prediction' (SD v1.4: 'epsilon'); " \
           "timestep_spacing 'trailing' (SD v1.4: 'leading'); rescale_betas_zero_snr True (SD v1.4: False)" in caplog.text
    row = pipeline.summary(pipe).set_index("component").loc["schedule", "detail"]
    assert row.startswith("differs from SD v1.4: prediction_type 'v_prediction'")
