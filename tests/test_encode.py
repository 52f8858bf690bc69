"""Encoding models: PCA on training images only, voxel blocks, and the toy world's ground truth."""
import numpy as np
import pytest
import yaml

from conftest import ROOT, write_tree
from sdbrain import encode, features, ingest, nsd, sd, toy_model

PARAMS = dict(alphas=[1.0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6], folds=5, fit_intercept=True, n_targets_batch=10000,
              voxel_block=100000, fdr_q=0.05, backend="auto")


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


def test_voxel_blocks_do_not_change_results():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 12)).astype(np.float32)
    rows = rng.integers(0, 30, size=90)
    y = (x[rows] @ rng.normal(size=(12, 23)) + rng.normal(size=(90, 23))).astype(np.float32)
    x_test = rng.normal(size=(15, 12)).astype(np.float32)
    y_test = (x_test @ rng.normal(size=(12, 23))).astype(np.float32)
    whole = encode.fit_voxels(x, rows, x_test, y, y_test, PARAMS)
    blocks = encode.fit_voxels(x, rows, x_test, y, y_test, {**PARAMS, "voxel_block": 7})
    assert np.allclose(whole.r, blocks.r, atol=1e-5) and np.array_equal(whole.alphas, blocks.alphas)
    chosen = np.array([0, 3, 4, 10, 22])
    some = encode.fit_voxels(x, rows, x_test, y, y_test, {**PARAMS, "voxel_block": 2}, columns=chosen)
    assert np.allclose(some.r, whole.r[chosen], atol=1e-5), "columns select voxels without copying the rest"


def test_planned_block_fits_a_200k_voxel_problem_in_the_budget():
    block = encode.planned_block(n_trials=24980, n_features=6400, budget_mb=16000)
    assert 1000 < block < 200_000
    with pytest.raises(ValueError, match="below the design matrix"):
        encode.planned_block(n_trials=24980, n_features=6400, budget_mb=500)


@pytest.fixture(scope="module")
def encoded(tmp_path_factory):
    root = tmp_path_factory.mktemp("encode")
    layout = write_tree(root, n_subjects=1, n_sessions=2, trials_per_session=200, n_shared=40, noise_sd=0.5)
    test = nsd.test_ids(layout, ["subj01"], [1, 2])
    ingest.ingest_subject(layout, "subj01", [1, 2], {"brain": {"file": "brainmask", "labels": [1]}}, test, root / "fmri")
    model = yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["model"]
    captions = nsd.read_captions(layout)
    toy_model.build_random_pipeline(root / "sd", {w for t in captions.values() for c in t for w in c.split()}, model)
    pipe = sd.load_pipeline(root / "sd")
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
