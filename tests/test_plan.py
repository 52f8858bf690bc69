"""What a config asks the workflow for (sdbrain.workflow.plan): methods, encoding models, figure layouts, job keys."""
import pytest
import yaml

from conftest import ROOT
from sdbrain.workflow import plan, spaces
from sdbrain.workflow.config import validate_config


def load(name: str) -> dict:
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    validate_config(config, str(ROOT / "config/schema.yaml"))
    return config


DEFAULT, NSD = load("config.yaml"), load("nsd.yaml")


def unet(level, steps=("early", "middle", "late"), layers=("down1", "down2", "mid", "up1", "up2")):
    return [f"unet{level}-{layer}-{step}" for step in steps for layer in layers]


@pytest.mark.parametrize("config, level", [(DEFAULT, "0.5"), (NSD, "0.75")])
def test_encoding_models(config, level):
    models = plan.encoding_models(config)
    steps = [f"zc{level}-early", f"zc{level}-middle", f"zc{level}-late"]
    assert models.single == ["z", "c", "zc0.25", "zc0.5", "zc0.75"] + steps + unet(level)
    assert models.joint == ["zc0.25", "zc0.5", "zc0.75"] + steps
    assert models.layer_groups == {f"unet{level}-{step}": unet(level, steps=[step])
                                   for step in ("early", "middle", "late")}
    assert models.captured == [level]
    for name in models.single + models.joint:
        assert spaces.parse(name).name == name


@pytest.mark.parametrize("config", [DEFAULT, NSD, {
    "encode": {"noise_levels": [0.25, 0.5], "step_levels": [0.5, 1.0]},
    "features": {"steps": {"late": 1.0}, "unet_layers": {"mid": "mid_block"}}}])
def test_level_jobs_fit_every_model_once(config):
    """Rule encode (z, c) and one encode_level job per noise level and one encode_steps job per step level
    fit exactly the models of ``encoding_models``, none twice."""
    models = plan.encoding_models(config)
    jobs = [plan.level_models(config, False).at(s) for s in config["encode"]["noise_levels"]]
    jobs += [plan.level_models(config, True).at(s) for s in config["encode"]["step_levels"]]
    single = ["z", "c"] + [space for job in jobs for space in job.single]
    joint = [space for job in jobs for space in job.joint]
    groups = [group for job in jobs for group in job.layer_groups.items()]
    assert sorted(single) == sorted(models.single) and len(set(single)) == len(single)
    assert sorted(joint) == sorted(models.joint) and len(set(joint)) == len(joint)
    assert dict(groups) == models.layer_groups and len(groups) == len(models.layer_groups)
    # a rule's patterns: the level as the wildcard, kept as written
    steps = plan.level_models(config, True).at("{level}")
    assert steps.joint[0] == f"zc{{level}}-{next(iter(config['features']['steps']))}"
    assert plan.level_models(config, False).at("0.50").single == ["zc0.50"]


def test_a_step_level_that_is_also_a_noise_level_is_modelled_once():
    config = {"encode": {"noise_levels": [0.25, 0.5], "step_levels": [0.5, 1.0]},
              "features": {"steps": {"late": 1.0}, "unet_layers": {"mid": "mid_block"}}}
    models = plan.encoding_models(config)
    assert models.single == ["z", "c", "zc0.25", "zc0.5", "zc0.5-late", "unet0.5-mid-late", "zc1-late",
                             "unet1-mid-late"]
    assert models.joint == ["zc0.25", "zc0.5", "zc0.5-late", "zc1-late"]
    assert models.captured == ["0.5", "1"]


@pytest.mark.parametrize("config, extra", [(DEFAULT, []), (NSD, ["text", "gan", "gan_text"])])
def test_methods(config, extra):
    # config/nsd.yaml has the released code's decoded text and GAN init; the toy run has them one switch away
    assert plan.methods(config) == ["z", "c", "zc0.8", *extra]
    assert plan.main_method(config) == "zc0.8"
    labels = {"text": "text (s=0.8)", "gan": "gan (iCNN)", "gan_text": "gan_text (s=0.8)"}
    assert plan.fig3_labels(config) == ["X_z", "X_c", "X_zc (s=0.8)", *(labels[m] for m in extra)]


def test_methods_at_several_strengths():
    config = {"reconstruct": {"strengths": [1.0, 0.5]}, "text": {"enabled": False}}
    assert plan.methods(config) == ["z", "c", "zc1", "zc0.5"]
    assert plan.main_method(config) == "zc1"
    assert plan.fig3_labels(config) == ["X_z", "X_c", "X_zc (s=1)"]


@pytest.mark.parametrize("strength, shown", [(None, 1.0), (0.6, 0.6)])
def test_method_text_joins_the_methods_at_x_zcs_strength_or_its_own(strength, shown):
    config = {"reconstruct": {"strengths": [1.0, 0.5], "steps": 10}, "text": {"enabled": True, "strength": strength}}
    assert plan.methods(config) == ["z", "c", "zc1", "zc0.5", "text"]
    assert plan.fig3_methods(config) == ["z", "c", "zc1", "text"]
    assert plan.fig3_labels(config) == ["X_z", "X_c", "X_zc (s=1)", f"text (s={shown:g})"]
    assert plan.reconstruct_settings(config, "text")["text_strength"] == shown
    assert "text_strength" not in plan.reconstruct_settings(config, "zc1"), "the other methods' params unchanged"


def test_the_gan_init_joins_the_methods_and_decodes_each_vgg19_layer():
    config = {"reconstruct": {"strengths": [0.8], "steps": 10}, "text": {"enabled": True, "strength": None},
              "gan": {"enabled": True, "strength": 0.6, "layers": ["conv1_2", "fc8"]},
              "decode": {"alphas": [1.0], "per_target": {"vgg19": {"alphas": [1e4], "train_on": "images"}}}}
    assert plan.methods(config) == ["z", "c", "zc0.8", "text", "gan", "gan_text"]
    assert plan.fig3_labels(config) == ["X_z", "X_c", "X_zc (s=0.8)", "text (s=0.8)", "gan (iCNN)", "gan_text (s=0.6)"]
    assert plan.reconstruct_settings(config, "gan_text")["gan_strength"] == 0.6
    assert plan.gan_targets(config) == ["vgg19-conv1_2", "vgg19-fc8"]
    # every layer's decoder takes the vgg19 entry: the report's grid, on per-image averaged betas
    assert plan.decode_settings(config, "vgg19-fc8") == {"alphas": [1e4], "train_on": "images"}
    assert plan.decode_settings(config, "z") == {"alphas": [1.0]}
    config["text"]["enabled"] = False
    assert plan.methods(config) == ["z", "c", "zc0.8", "gan"], "gan_text needs the decoded caption"


def test_a_target_takes_its_own_decoder_settings():
    config = {"decode": {"alphas": [1.0, 10.0], "fit_intercept": True, "memory_mb": 100, "folds": 5,
                         "per_target": {"blip": {"alphas": [1e4, 2e4, 4e4], "fit_intercept": False}}}}
    assert plan.decode_settings(config, "z") == {"alphas": [1.0, 10.0], "fit_intercept": True, "memory_mb": 100,
                                                 "folds": 5}
    assert plan.decode_settings(config, "blip") == {"alphas": [1e4, 2e4, 4e4], "fit_intercept": False,
                                                    "memory_mb": 100, "folds": 5}


def panel(subject, space, name, mask="fdr_mask"):
    return {"subject": subject, "map": f"results/encode/{subject}/{space}/{name}.nii.gz",
            "mask": f"results/encode/{subject}/{space}/{mask}.nii.gz" if mask else None, "zero_is_empty": not mask}


HOT = {"cmap": "hot", "vmin": 0.0, "vmax": None}


@pytest.mark.parametrize("config, subjects, level", [(DEFAULT, ["subj01", "subj02"], "0.5"),
                                                     (NSD, ["subj01", "subj02", "subj05", "subj07"], "0.75")])
def test_encoding_figures(config, subjects, level):
    assert plan.encoding_figures(config) == [6, 7, 8, 9]
    unique = [f"{s}: {what}" for s in subjects for what in ("unique to z", "unique to z_c")]
    steps = ["early", "middle", "late"]
    step_rows = [f"{step} step (s = {level})" for step in steps]

    fig = plan.encoding_figure(config, 6)
    assert (fig.rows, fig.columns) == (["z", "c", "zc0.5"], subjects)
    assert fig.title == "Fig. 6: prediction accuracy (r) of z, c and z_c, significant voxels"
    assert fig.style == {**HOT, "label": "r"}
    assert fig.panels == [[panel(s, space, "r") for s in subjects] for space in ("z", "c", "zc0.5")]

    fig = plan.encoding_figure(config, 7)
    assert (fig.rows, fig.columns) == (["s = 0.25", "s = 0.5", "s = 0.75"], unique)
    assert fig.title == "Fig. 7: unique variance of z and z_c in joint models, by noise level"
    assert fig.style == {**HOT, "label": "unique variance (r^2)"}
    assert fig.panels[0][:2] == [panel(subjects[0], "z+zc0.25", "unique_z"),
                                 panel(subjects[0], "z+zc0.25", "unique_zc0.25")]
    assert fig.panels[2][-1] == panel(subjects[-1], "z+zc0.75", "unique_zc0.75")

    fig = plan.encoding_figure(config, 8)
    assert (fig.rows, fig.columns) == (step_rows, unique)
    assert fig.title == "Fig. 8: unique variance of z and z_c in joint models, by denoising step"
    assert fig.panels[0][1] == panel(subjects[0], f"z+zc{level}-early", f"unique_zc{level}-early")
    assert fig.panels[2][-1] == panel(subjects[-1], f"z+zc{level}-late", f"unique_zc{level}-late")

    fig = plan.encoding_figure(config, 9)
    assert (fig.rows, fig.columns) == (step_rows, subjects)
    assert fig.title == "Fig. 9: the U-Net layer that predicts each voxel best, by denoising step"
    assert fig.style == {"categories": ["down1", "down2", "mid", "up1", "up2"]}
    assert fig.panels == [[panel(s, f"unet{level}-{step}", "best_layer", mask=None) for s in subjects]
                          for step in steps]
    assert fig.maps() == [f"results/encode/{s}/unet{level}-{step}/best_layer.nii.gz" for step in steps
                          for s in subjects]


def test_figures_follow_the_levels_asked_for():
    config = {**DEFAULT, "subjects": ["subj01"],
              "encode": {**DEFAULT["encode"], "noise_levels": [], "step_levels": [], "joint_maps": "banded"}}
    assert plan.encoding_figures(config) == [6]
    assert plan.encoding_figure(config, 6).rows == ["z", "c"]
    config["encode"]["noise_levels"] = [0.3]
    assert plan.encoding_figures(config) == [6, 7]
    assert plan.encoding_figure(config, 7).panels == [[panel("subj01", "z+zc0.3/banded", "unique_z"),
                                                       panel("subj01", "z+zc0.3/banded", "unique_zc0.3")]]
    with pytest.raises(ValueError, match="no encoding figure 5"):
        plan.encoding_figure(config, 5)


KEYS = {("features", "FEATURES_KEYS"), ("features", "DIFFUSION_KEYS"), ("reconstruct", "GENERATE_KEYS"),
        ("reconstruct", "RECONSTRUCT_KEYS"), ("decode", "DECODE_KEYS"), ("encode", "ENCODE_KEYS"),
        ("encode", "BANDED_KEYS"), ("evaluate", "EVALUATE_KEYS"), ("evaluate", "NETWORKS_KEYS"),
        ("validity", "VALIDITY_KEYS"), ("toy", "TOY_NSD_KEYS")}


@pytest.mark.parametrize("section, keys", sorted(KEYS))
def test_every_job_key_is_a_config_key(section, keys):
    """A misspelt key would be dropped silently (keys() skips absent optional keys)."""
    schema = yaml.safe_load((ROOT / "config/schema.yaml").read_text())
    assert set(getattr(plan, keys)) <= set(schema["properties"][section]["properties"])


def test_keys_pick_only_the_named_keys():
    assert plan.keys({"a": 1, "b": [2], "c": 3}, ("b", "a", "d")) == {"b": [2], "a": 1}
    # the keys that select what is planned are no job's
    for names in (plan.ENCODE_KEYS, plan.BANDED_KEYS):
        assert not {"noise_levels", "step_levels", "joint", "joint_maps"} & set(names)
    assert "strengths" not in plan.RECONSTRUCT_KEYS


def test_the_model_note_says_what_the_run_is():
    """Figures of the toy world say so under them; with the random model, that they test the code path."""
    assert plan.model_note(DEFAULT) == f"toy world (simulated fMRI), diffusion model {DEFAULT['model_dir']}: not NSD results"
    random = {**DEFAULT, "model_dir": "results/toy/sd_random"}
    assert plan.builds_model(random) and not plan.builds_model(DEFAULT) and not plan.builds_model(NSD)
    assert plan.model_note(random) == ("toy world, random-weight diffusion model: reconstructions test the code path, "
                                       "not the method")
    assert plan.model_note(NSD) == ""
