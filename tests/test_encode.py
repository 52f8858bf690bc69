"""Encoding models: PCA on training images only, voxel blocks, and the toy world's ground truth."""
from dataclasses import replace

import numpy as np
import pytest
import yaml

from conftest import ROOT, write_tree
from sdbrain.data import ingest, nsd
from sdbrain.errors import ArgumentError
from sdbrain.linear import encode, ridge, stats
from sdbrain.sd import features, pipeline
from sdbrain.toy import model as toy_model

RIDGE = ridge.Settings([1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6], folds=5, fit_intercept=True, n_targets_batch=10000)
PARAMS = encode.Settings(RIDGE, fdr_q=0.05, voxel_block=100000)


def test_pca_is_fitted_on_training_images_only():
    rng = np.random.default_rng(0)
    values = rng.normal(size=(60, 50)).astype(np.float32)
    ids = np.arange(1, 61)
    train, test = ids[:40], ids[40:]
    a = encode.reduce(values, ids, train, test, n_components=10, seed=0)
    changed = values.copy()
    changed[40:] *= 100  # wildly different test images
    b = encode.reduce(changed, ids, train, test, n_components=10, seed=0)
    assert a.train.shape == (40, 10) and a.test.shape == (20, 10)
    assert np.allclose(a.train, b.train), "training features must not depend on test images"
    assert not np.allclose(a.test, b.test)
    assert a.explained_variance.shape == (10,) and np.all(np.diff(a.explained_variance) <= 1e-9)
    narrow = encode.reduce(values[:, :8], ids, train, test, n_components=10, seed=0)
    assert narrow.train.shape == (40, 8) and narrow.explained_variance.size == 0, "no PCA below the size"


def test_settings_pick_the_keys_of_the_encode_section():
    """encode.Settings.pick takes the ridge's and its own keys from config section encode (not pca_components,
    seed or banded, which other calls take)."""
    section = {"alphas": [1.0, 10.0], "folds": 4, "fit_intercept": True, "n_targets_batch": 5, "memory_mb": 300,
               "voxel_block": 7, "fdr_q": 0.01, "backend": "torch", "solver": "himalaya", "pca_components": 8,
               "seed": 1, "banded": {"n_iter": 2}}
    assert encode.Settings.pick(section) == encode.Settings(
        ridge.Settings((1.0, 10.0), 4, True, "torch", "himalaya", 5), fdr_q=0.01, memory_mb=300, voxel_block=7)


def test_voxel_blocks_do_not_change_results():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 12)).astype(np.float32)
    rows = rng.integers(0, 30, size=90)
    y = (x[rows] @ rng.normal(size=(12, 23)) + rng.normal(size=(90, 23))).astype(np.float32)
    x_test = rng.normal(size=(15, 12)).astype(np.float32)
    y_test = (x_test @ rng.normal(size=(12, 23))).astype(np.float32)
    whole = encode.fit_voxels(x, rows, x_test, y, y_test, PARAMS)
    blocks = encode.fit_voxels(x, rows, x_test, y, y_test, replace(PARAMS, voxel_block=7))
    assert np.allclose(whole.r, blocks.r, atol=1e-5) and np.array_equal(whole.alphas, blocks.alphas)
    chosen = np.array([0, 3, 4, 10, 22])
    some = encode.fit_voxels(x, rows, x_test, y, y_test, replace(PARAMS, voxel_block=2), columns=chosen)
    assert np.allclose(some.r, whole.r[chosen], atol=1e-5), "columns select voxels without copying the rest"


def test_voxel_blocks_are_planned_from_the_memory_budget():
    # NSD: 24,980 training trials x 6,400 PCA features, 982 test images, 16 GB
    block = encode.planned_block(n_trials=24980, n_features=6400, n_test=982, budget_mb=16000)
    design = 6 * 24980 * 6400 * 4 + 100 * 2**20
    per_voxel = (5 * 24980 + 5 * 6400 + 2 * 982) * 4
    assert block == (16000 * 2**20 - design) // per_voxel  # about 19,900: 11 blocks for 200k voxels
    assert 19000 < block < 21000
    assert encode.voxel_block(encode.Settings(RIDGE, memory_mb=16000, voxel_block=50000), 24980, 6400, 982) == block
    assert encode.voxel_block(encode.Settings(RIDGE, memory_mb=16000, voxel_block=5000), 24980, 6400, 982) == 5000
    assert encode.voxel_block(encode.Settings(RIDGE, voxel_block=7), 24980, 6400, 982) == 7
    with pytest.raises(ArgumentError, match="^argument 'memory_mb': 500 MB does not hold the design matrix and work "
                                            "buffers' 3759 MB") as err:
        encode.planned_block(n_trials=24980, n_features=6400, n_test=982, budget_mb=500)
    assert err.value.argument == "memory_mb"


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    root = tmp_path_factory.mktemp("encode")
    layout = write_tree(root, n_subjects=1, n_sessions=2, trials_per_session=200, n_shared=40, noise_sd=0.5)
    test = nsd.test_ids(layout, ["subj01"], [1, 2])
    ingest.ingest_subject(layout, "subj01", [1, 2], {"brain": ingest.RoiLabels("brainmask", (1,))}, test, root / "fmri")
    model = yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["model"]
    captions = nsd.read_captions(layout)
    toy_model.build_random_pipeline(root / "sd", {w for t in captions.values() for c in t for w in c.split()}, model)
    pipe = pipeline.load_pipeline(root / "sd")
    ids = np.array(sorted(captions))
    spaces = {"z": features.encode_z(pipe, nsd.read_images(layout, ids), ids, 32, False, 0, 64),
              "c": features.encode_c(pipe, [captions[int(i)] for i in ids], ids, 64)}
    y_train, train_ids, voxels = ingest.load_betas(root / "fmri", "brain", "train")
    y_test, test_ids, _ = ingest.load_betas(root / "fmri", "brain", "test")
    images, rows = np.unique(train_ids, return_inverse=True)
    out = {}
    for name, values in spaces.items():
        reduced = encode.reduce(values, ids, images, test_ids, 64, 0)
        out[name] = encode.fit_voxels(reduced.train, rows, reduced.test, y_train, y_test, PARAMS)
    truth = np.load(root / "truth" / "subj01.npz")
    classes = truth["voxel_class"][np.searchsorted(truth["voxels"], voxels["voxel"].to_numpy())]
    return out, classes


def test_ground_truth_shows_up(encoded):
    result, classes = encoded
    early, ventral, silent = classes == 1, classes == 2, classes == 0
    z, c = result["z"].r, result["c"].r
    print(f"z: early {np.nanmean(z[early]):.3f} ventral {np.nanmean(z[ventral]):.3f}; "
          f"c: early {np.nanmean(c[early]):.3f} ventral {np.nanmean(c[ventral]):.3f}")
    assert np.nanmean(z[early]) > np.nanmean(z[ventral]) + 0.1, "z (the image) predicts retinotopic voxels best"
    assert np.nanmean(c[ventral]) > 0.3, "c (the captions) predicts semantic voxels"
    assert np.nanmean(c[ventral]) > np.nanmean(c[early]), "c predicts semantic voxels better than retinotopic ones"
    for space in ("z", "c"):
        # silent voxels: among significant voxels, silent ones are false discoveries; BH bounds their share by q
        significant = result[space].significant
        false_share = (significant & silent).sum() / max(significant.sum(), 1)
        assert false_share <= 0.05 + 0.02, space
        assert significant[early | ventral].mean() > 0.2


def test_unique_variance_and_best_layer_on_known_values():
    r_joint = np.array([0.5, 0.5, 0.2, -0.1, np.nan])
    r_other = np.array([0.3, 0.5, -0.4, 0.1, 0.2])
    # R2 = max(r, 0)^2: 0.25 - 0.09, 0.25 - 0.25, 0.04 - 0, 0 - 0.01, 0 - 0.04
    assert np.allclose(encode.unique_variance(r_joint, r_other), [0.16, 0.0, 0.04, -0.01, -0.04])
    r = np.array([[0.1, 0.5, 0.3, np.nan], [0.4, 0.2, 0.3, 0.2], [0.2, 0.6, 0.1, 0.1]])
    significant = np.array([[0, 1, 0, 0], [1, 0, 0, 0], [0, 1, 0, 0]], dtype=bool)
    # column 0: layer 2 (0.4); column 1: layer 3 (0.6); column 2: no layer significant; column 3: neither
    assert encode.best_layer(r, significant).tolist() == [2, 3, 0, 0]


def test_joint_model_of_two_spaces_explains_both():
    """Voxels driven by space a, by b, or by both: unique variance goes to the space that drives them."""
    rng = np.random.default_rng(4)
    n_images, n_test = 200, 60
    a, b = rng.normal(size=(n_images + n_test, 5)), rng.normal(size=(n_images + n_test, 5))
    drive = np.column_stack([a @ rng.normal(size=(5, 20)), b @ rng.normal(size=(5, 20)),
                             a @ rng.normal(size=(5, 20)) + b @ rng.normal(size=(5, 20))])
    y = drive + 0.5 * rng.normal(size=drive.shape) * drive.std(0)
    rows = np.arange(n_images)
    xa = encode.Reduced(a[:n_images].astype(np.float32), a[n_images:].astype(np.float32), np.array([]))
    xb = encode.Reduced(b[:n_images].astype(np.float32), b[n_images:].astype(np.float32), np.array([]))
    fit = {name: encode.fit_voxels(x.train, rows, x.test, y[:n_images].astype(np.float32),
                                   drive[n_images:].astype(np.float32), PARAMS)
           for name, x in (("a", xa), ("b", xb), ("ab", encode.joint(xa, xb)))}
    unique_a = encode.unique_variance(fit["ab"].r, fit["b"].r)
    unique_b = encode.unique_variance(fit["ab"].r, fit["a"].r)
    only_a, only_b, both = slice(0, 20), slice(20, 40), slice(40, 60)
    assert unique_a[only_a].mean() > 0.7 and abs(unique_b[only_a].mean()) < 0.05
    assert unique_b[only_b].mean() > 0.7 and abs(unique_a[only_b].mean()) < 0.05
    assert fit["ab"].r[both].mean() > max(fit["a"].r[both].mean(), fit["b"].r[both].mean()) + 0.1


def test_features_missing_a_stimulus_are_refused(tmp_path):
    values = np.zeros((3, 4), dtype=np.float32)
    with pytest.raises(Exception, match="unet0.5-mid-early.npy: no row for 1 stimulus ids, e.g. \\[9\\]"):
        encode.reduce(values, np.array([1, 2, 3]), np.array([1, 2]), np.array([9]), 2, 0,
                      source="results/features/unet0.5-mid-early.npy")


def test_features_are_matched_by_stimulus_id_not_by_row_order():
    """Rows in another order (with their ids) give the same features; ids that do not label
    the rows one to one are refused, naming the file."""
    rng = np.random.default_rng(5)
    values, ids = rng.standard_normal((6, 3)).astype(np.float32), np.array([10, 11, 12, 13, 14, 15])
    order = rng.permutation(6)
    a = encode.reduce(values, ids, np.array([12, 10, 15, 11]), np.array([13, 14]), 8, 0)
    b = encode.reduce(values[order], ids[order], np.array([12, 10, 15, 11]), np.array([13, 14]), 8, 0)
    np.testing.assert_array_equal(a.train, b.train)
    np.testing.assert_array_equal(a.test, b.test)
    np.testing.assert_array_equal(a.train[0], values[2])
    with pytest.raises(Exception, match="zc0.5.npy: 6 rows but 5 stimulus ids"):
        encode.reduce(values, ids[:5], ids[:4], ids[4:5], 8, 0, source="zc0.5.npy")
    with pytest.raises(Exception, match="zc0.5.npy: stimulus ids appear more than once, e.g. \\[12\\]"):
        encode.reduce(values, np.array([10, 11, 12, 12, 14, 15]), ids[:2], ids[4:], 8, 0, source="zc0.5.npy")


def test_noise_ceiling_from_ncsnr_matches_the_toy_worlds_signal(tmp_path):
    """ncsnr (signal sd / noise sd, as NSD defines it) gives the r^2 that the true signal reaches on the averaged test betas."""
    # four sessions recorded, three analysed: some test images lose repeats, as in the paper's 37 of 40
    layout = write_tree(tmp_path, n_subjects=1, n_sessions=4, trials_per_session=120, n_shared=60, noise_sd=1.0)
    test = nsd.test_ids(layout, ["subj01"], [1, 2, 3])
    ingest.ingest_subject(layout, "subj01", [1, 2, 3], {"brain": ingest.RoiLabels("brainmask", (1,))}, test,
                          tmp_path / "fmri")
    y_test, test_ids, voxels = ingest.load_betas(tmp_path / "fmri", "brain", "test")
    repeats = nsd.test_repeats(layout, "subj01", [1, 2, 3], test_ids)
    assert repeats.min() >= 1 and repeats.max() <= 3 and len(set(repeats)) > 1, "averages of 1 to 3 trials"
    index = voxels["voxel"].to_numpy()
    ceiling = stats.noise_ceiling(nsd.read_volume(layout.ncsnr("subj01")).ravel()[index], repeats)
    truth = np.load(tmp_path / "truth" / "subj01.npz")
    rows = {int(i): r for r, i in enumerate(truth["signal_ids"])}
    columns = np.searchsorted(truth["voxels"], index)
    signal = truth["signal"][[rows[int(i)] for i in test_ids]][:, columns]
    driven = truth["voxel_class"][columns] > 0
    r2 = stats.pearson_columns(signal[:, driven], y_test[:, driven]) ** 2
    print(f"mean r^2 of the true signal {r2.mean():.3f}, mean noise ceiling {ceiling[driven].mean():.3f}")
    assert abs(r2.mean() - ceiling[driven].mean()) < 0.05
    assert np.all(ceiling[~driven] == 0), "silent voxels have no explainable variance"
