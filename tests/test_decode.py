"""Decoders: agreement with closed-form ridge, and real signal on the toy world (vs shuffled labels)."""
import numpy as np
import pytest
import yaml

from conftest import ROOT, write_tree
from sdbrain.data import ingest, io, nsd
from sdbrain.errors import ArgumentError
from sdbrain.linear import decode, ridge
from sdbrain.sd import features, pipeline
from sdbrain.toy import model as toy_model

PARAMS = ridge.Settings([1e2, 1e3, 1e4, 1e5, 1e6], folds=5, fit_intercept=True, n_targets_batch=1000, backend="auto")


@pytest.mark.parametrize("n, p", [(120, 40), (40, 120)])  # primal and kernel (dual) forms
@pytest.mark.parametrize("intercept", [False, True])
@pytest.mark.parametrize("solver", ["eigh", "himalaya"])
def test_matches_closed_form_ridge(n, p, intercept, solver):
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 3.0, size=(n, p)).astype(np.float32)
    y = (x @ rng.normal(size=(p, 6)) + 5 + rng.normal(size=(n, 6))).astype(np.float32)
    x_new = rng.normal(2.0, 3.0, size=(15, p)).astype(np.float32)
    alpha = 7.0
    model = ridge.fit(x, y, ridge.Settings([alpha], fit_intercept=intercept, solver=solver))
    # reference: numpy, float64, standardised with training statistics, explicit intercept
    mean, sd_ = x.mean(0, dtype=np.float64), x.std(0, dtype=np.float64)
    xs, xs_new = (x - mean) / sd_, (x_new - mean) / sd_
    y_mean = y.mean(0, dtype=np.float64) if intercept else 0.0
    coef = np.linalg.solve(xs.T @ xs + alpha * np.eye(p), xs.T @ (y - y_mean))
    expected = xs_new @ coef + y_mean
    assert np.allclose(model.predict(x_new), expected, atol=1e-4 * np.abs(expected).max())
    assert np.all(model.alphas == pytest.approx(alpha))


@pytest.mark.parametrize("n, p", [(300, 60), (80, 200)])
def test_eigh_solver_chooses_himalayas_alphas(n, p):
    """Same CV score, folds and tie rule as himalaya: the same alphas (but for near-ties), the same predictions.

    Near-ties: with fewer trials than inputs, alphas of 1e-6 and 1e-3 both interpolate the
    training data and their CV scores differ by rounding, where himalaya's float32 kernel
    solver is itself off (see the next test).
    """
    rng = np.random.default_rng(2)
    x = rng.normal(size=(n, p)).astype(np.float32)
    signal = rng.normal(size=(p, 40)) * np.logspace(-2, 0.5, 40)  # targets from almost noise to strong signal
    y = (x @ signal + rng.normal(size=(n, 40)) * 3).astype(np.float32)
    x_new = rng.normal(size=(20, p)).astype(np.float32)
    grid = [1e-6, 1e-3, 1.0, 10.0, 100.0, 1e3, 1e4, 1e6]
    ours = ridge.fit(x, y, ridge.Settings(grid, folds=5, fit_intercept=True, n_targets_batch=16, solver="eigh"))
    theirs = ridge.fit(x, y, ridge.Settings(grid, folds=5, fit_intercept=True, n_targets_batch=16, solver="himalaya"))
    assert ours.backend.startswith("eigh/") and theirs.backend.startswith("himalaya/")
    same = np.isclose(ours.alphas, theirs.alphas, rtol=1e-5)  # himalaya keeps alphas in float32
    assert same.mean() >= 0.9 and len(set(ours.alphas)) >= 3, "a range of alphas is chosen"
    assert np.all(np.minimum(ours.alphas, theirs.alphas)[~same] < 1e-2), "disagreements are near-ties only"
    a, b = ours.predict(x_new)[:, same], theirs.predict(x_new)[:, same]
    assert np.allclose(a, b, atol=1e-3 * np.abs(b).max())


def test_eigh_solver_is_exact_at_tiny_alphas_in_kernel_form():
    """The reference grid starts at 1e-6; with fewer trials than inputs and an intercept the centred kernel is
    singular. Measured here: eigh stays within 1e-4 of float64 ridge, himalaya's KernelRidgeCV is off by 11.9 of 77."""
    rng = np.random.default_rng(2)
    x = rng.normal(size=(80, 200)).astype(np.float32)
    y = (x @ rng.normal(size=(200, 5)) + rng.normal(size=(80, 5))).astype(np.float32)
    x_new = rng.normal(size=(20, 200)).astype(np.float32)
    mean, sd_ = x.mean(0, dtype=np.float64), x.std(0, dtype=np.float64)
    xs, xs_new = (x - mean) / sd_, (x_new - mean) / sd_
    centre, y_mean = xs.mean(0), y.mean(0, dtype=np.float64)
    coef = np.linalg.solve((xs - centre).T @ (xs - centre) + 1e-6 * np.eye(200), (xs - centre).T @ (y - y_mean))
    expected = (xs_new - centre) @ coef + y_mean
    model = ridge.fit(x, y, ridge.Settings([1e-6], fit_intercept=True, solver="eigh"))
    assert np.allclose(model.predict(x_new), expected, atol=1e-5 * np.abs(expected).max())


@pytest.mark.parametrize("n, p", [(300, 80), (90, 240)])  # primal, and dual where voxels outnumber trials
def test_streamed_target_blocks_equal_the_in_memory_decoder(tmp_path, n, p):
    """More targets than the memory budget holds: read a block at a time from a feature file (one row per
    stimulus, expanded to the trials that showed it), predicted into a file a block at a time; the same alphas
    and predictions as the in-memory fit."""
    rng = np.random.default_rng(3)
    n_targets, n_test, grid = 6000, 25, [1e-1, 1e1, 1e2, 1e3, 1e4]
    stimulus = rng.integers(0, n // 2, n)  # each stimulus shown about twice
    x = rng.normal(size=(n, p)).astype(np.float32)
    x_test = rng.normal(size=(n_test, p)).astype(np.float32)
    weights = rng.normal(size=(p, n_targets)) * np.logspace(-2, 0.5, n_targets)  # a range of alphas
    features = (rng.normal(size=(n // 2, p)) @ weights + rng.normal(size=(n // 2, n_targets)) * 3).astype(np.float32)
    np.save(tmp_path / "features.npy", features)
    x[:] = x + features[stimulus] @ np.linalg.pinv(weights).astype(np.float32) * 0.5  # voxels that carry the targets
    settings = ridge.Settings(grid, folds=5, fit_intercept=True, solver="eigh")
    memory_mb = 2.0
    batch = ridge.target_batch(memory_mb, n, p, n_test, len(grid))
    assert n_targets > 4 * batch, "several blocks: all targets would need more than 4 x the budget"
    out = io.ColumnBlocks(tmp_path / "prediction.npy", create=(n_test, n_targets))
    alphas = ridge.prepare(x, settings).stream(io.ColumnBlocks(tmp_path / "features.npy", rows=stimulus), x_test,
                                               out, batch)
    model = ridge.fit(x, features[stimulus], settings)
    expected = model.predict(x_test)
    assert np.array_equal(alphas, model.alphas) and len(set(alphas)) >= 3
    streamed = np.load(tmp_path / "prediction.npy")
    error = np.linalg.norm(streamed - expected, axis=0) / np.linalg.norm(expected, axis=0)
    assert error.max() < 1e-5


def test_a_block_of_targets_is_sized_by_the_memory_budget():
    # 5,000 trials x 20,000 voxels, 982 test images, 3 alphas: 4 x (25,000 + 15,000 + 20,000 + 1,964) + 24 bytes
    per_target = (4 * (5 * 5000 + 3 * 5000 + 20000 + 2 * 982) + 8 * 3) * ridge.ALLOCATOR_SLACK
    assert ridge.target_batch(4096, 5000, 20000, 982, 3) == 4096 * 2**20 // per_target == 9901
    assert ridge.target_batch(1e-9, 5000, 20000, 982, 3) == 1  # at least one target
    with pytest.raises(ArgumentError, match="^argument 'solver': streaming target blocks needs the eigh solver"):
        ridge.prepare(np.ones((10, 2), np.float32), ridge.Settings([1.0], solver="himalaya")).stream(
            np.ones((10, 3), np.float32), np.ones((1, 2), np.float32), np.zeros((1, 3), np.float32), 1)


def test_alpha_choice_and_edges():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 20)).astype(np.float32)
    y = np.concatenate([x @ rng.normal(size=(20, 3)), rng.normal(size=(200, 3))], 1).astype(np.float32)
    model = ridge.fit(x, y, ridge.Settings([1e-3, 1e6], fit_intercept=True))
    assert np.allclose(model.alphas[:3], 1e-3) and np.allclose(model.alphas[3:], 1e6), "signal: little, noise: much"
    assert ridge.alpha_edges(model.alphas, [1e-3, 1e6]) == (0.5, 0.5)


def test_ridge_settings_name_a_bad_argument():
    """The schema refuses an empty decode.alphas or an unknown solver at parse time (tests/test_errors.py); code that
    builds the settings itself gets its argument named (a job names the config key: tests/test_jobs.py)."""
    with pytest.raises(ArgumentError, match=r"^argument 'alphas': the ridge alpha grid is empty$") as err:
        ridge.Settings([])
    assert err.value.argument == "alphas"
    with pytest.raises(ArgumentError, match=r"^argument 'solver': 'lsqr' is not one of eigh, himalaya$") as err:
        ridge.Settings([1.0], solver="lsqr")
    assert err.value.argument == "solver"


def test_rows_that_do_not_match_are_a_bug_not_bad_input():
    """Callers align targets to the inputs' rows by id first: a mismatch left is a programming error."""
    from sdbrain.errors import InputError
    prepared = ridge.prepare(np.random.default_rng(0).normal(size=(10, 2)).astype(np.float32), ridge.Settings([1.0]))
    with pytest.raises(ValueError, match="10 trials of inputs but 9 rows of targets") as err:
        prepared.fit(np.zeros((9, 1), np.float32))
    assert not isinstance(err.value, InputError)


def test_settings_pick_the_ridge_keys_of_a_config_section():
    """Settings.pick takes the ridge settings a config section names (decode's edge_warning is not one), with the
    defaults for those it does not name; the fit is the same as with the settings spelled out."""
    rng = np.random.default_rng(4)
    x = rng.normal(size=(60, 8)).astype(np.float32)
    y = (x @ rng.normal(size=(8, 5)) + rng.normal(size=(60, 5))).astype(np.float32)
    section = {"alphas": [1.0, 100.0], "folds": 3, "fit_intercept": True, "n_targets_batch": 2, "edge_warning": 0.5}
    picked = ridge.Settings.pick(section)
    assert picked == ridge.Settings((1.0, 100.0), folds=3, fit_intercept=True, n_targets_batch=2)
    assert (picked.backend, picked.solver) == ("auto", "eigh")
    ours, theirs = ridge.fit(x, y, picked), ridge.fit(x, y, ridge.Settings([1.0, 100.0], 3, True, n_targets_batch=2))
    assert np.array_equal(ours.weights, theirs.weights) and np.array_equal(ours.alphas, theirs.alphas)


@pytest.fixture(scope="module")
def decoding_world(tmp_path_factory):
    """One toy subject with enough trials to decode, and z and c of its stimuli from the random model."""
    root = tmp_path_factory.mktemp("decode")
    layout = write_tree(root, n_subjects=1, n_sessions=2, trials_per_session=200, n_shared=40, noise_sd=0.5)
    test = nsd.test_ids(layout, ["subj01"], [1, 2])
    rois = {"early": ingest.RoiLabels("streams", (1,)), "ventral": ingest.RoiLabels("streams", (5,))}
    ingest.ingest_subject(layout, "subj01", [1, 2], rois, test, root / "fmri")
    model_params = yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["model"]
    captions = nsd.read_captions(layout)
    toy_model.build_random_pipeline(root / "sd", {w for t in captions.values() for c in t for w in c.split()}, model_params)
    pipe = pipeline.load_pipeline(root / "sd")
    ids = np.array(sorted(captions))
    z = features.encode_z(pipe, nsd.read_images(layout, ids), ids, 32, sample=False, seed=0, batch_size=64)
    c = features.encode_c(pipe, [captions[int(i)] for i in ids], ids, batch_size=64)
    return root / "fmri", ids, {"z": (z, "early"), "c": (c, "ventral")}


@pytest.mark.parametrize("target, floor, margin", [("z", 0.1, 0.1), ("c", 0.5, 0.3)])
def test_decoding_beats_shuffled_labels(decoding_world, target, floor, margin):
    """Mean test r over targets against five decoders fitted on shuffled training labels.

    Targets are strongly correlated (c's rows share structure), so one shuffle's mean r
    is itself a noisy number: the real decoder must beat the best of five shuffles.
    """
    fmri, ids, spaces = decoding_world
    values, roi = spaces[target]
    x_train, train_ids, _ = ingest.load_betas(fmri, roi, "train")
    x_test, test_ids, _ = ingest.load_betas(fmri, roi, "test")
    real = decode.decode(x_train, train_ids, x_test, test_ids, values, ids, PARAMS)
    r_real = np.nanmean(real.target_r)
    r_null = [np.nanmean(decode.decode(x_train, train_ids, x_test, test_ids, values, ids, PARAMS, shuffle_seed=s).target_r)
              for s in range(5)]
    print(f"{target}: mean test r {r_real:.3f}, shuffled {np.round(r_null, 3)}")
    assert r_real > floor and r_real > max(r_null) + margin
    assert real.prediction.shape == (len(test_ids), values.shape[1])


def test_features_missing_for_a_training_stimulus_are_refused(decoding_world):
    fmri, ids, spaces = decoding_world
    x_train, train_ids, _ = ingest.load_betas(fmri, "early", "train")
    x_test, test_ids, _ = ingest.load_betas(fmri, "early", "test")
    keep = ids != train_ids[0]
    with pytest.raises(Exception, match=rf"z.npy: no row for 1 stimulus ids, e.g. \[{train_ids[0]}\]"):
        decode.decode(x_train, train_ids, x_test, test_ids, spaces["z"][0][keep], ids[keep], PARAMS, source="z.npy")


def test_stream_decodes_as_decode_does_from_the_feature_file(decoding_world, tmp_path):
    """decode.stream (rule decode where a target space does not fit decode.memory_mb): the feature file read in
    blocks of targets by the trials' stimulus ids, predictions written to a file; the same alphas, predictions
    and scores (per target and per image, the latter summed over blocks) as decode.decode in memory."""
    fmri, ids, spaces = decoding_world
    values = spaces["c"][0]
    x_train, train_ids, _ = ingest.load_betas(fmri, "ventral", "train")
    x_test, test_ids, _ = ingest.load_betas(fmri, "ventral", "test")
    order = np.random.default_rng(0).permutation(len(ids))  # a file in another order than the trials'
    np.save(tmp_path / "c.npy", values[order])
    memory_mb = 0.5
    n_alphas = len(PARAMS.alphas)
    assert not decode.fits_in_memory(memory_mb, len(train_ids), x_train.shape[1], len(test_ids), values.shape[1],
                                     n_alphas)
    assert ridge.target_batch(memory_mb, len(train_ids), x_train.shape[1], len(test_ids), n_alphas) * 4 < values.shape[1]
    streamed = decode.stream(x_train, train_ids, x_test, test_ids, tmp_path / "c.npy", ids[order], PARAMS, memory_mb,
                             tmp_path / "prediction.npy")
    held = decode.decode(x_train, train_ids, x_test, test_ids, values, ids, PARAMS)
    prediction = np.load(tmp_path / "prediction.npy")
    assert streamed.prediction is None and np.array_equal(streamed.alphas, held.alphas)
    error = np.linalg.norm(prediction - held.prediction) / np.linalg.norm(held.prediction)
    assert error < 1e-5
    # r of a target that is (nearly) constant over the test images, as c's start-token rows are, is rounding
    varies = io.align_rows(values, ids, test_ids, "c").std(0) > 1e-3 * values.std()
    assert varies.mean() > 0.9
    assert np.allclose(streamed.target_r[varies], held.target_r[varies], atol=1e-4)
    assert np.allclose(streamed.image_r, held.image_r, atol=1e-5)
    with pytest.raises(Exception, match=r"c.npy: no row for 1 stimulus ids"):
        keep = ids[order] != train_ids[0]
        np.save(tmp_path / "c.npy", values[order][keep])
        decode.stream(x_train, train_ids, x_test, test_ids, tmp_path / "c.npy", ids[order][keep], PARAMS, memory_mb,
                      tmp_path / "other.npy")


def test_float16_features_decode_as_float32_ones_within_their_rounding(decoding_world, tmp_path):
    """Features stored in float16 (gan.dtype: VGG19 at NSD size) stream through the decoder, which computes in
    float32: the same predictions within float16's rounding of the targets (2^-11 relative), scores without
    overflow."""
    fmri, ids, spaces = decoding_world
    values = spaces["c"][0] * 300   # features in the hundreds, as VGG19's: float16 sums of squares would overflow
    x_train, train_ids, _ = ingest.load_betas(fmri, "ventral", "train")
    x_test, test_ids, _ = ingest.load_betas(fmri, "ventral", "test")
    results = {}
    for dtype in (np.float32, np.float16):
        np.save(tmp_path / f"{dtype.__name__}.npy", values.astype(dtype))
        results[dtype] = decode.stream(x_train, train_ids, x_test, test_ids, tmp_path / f"{dtype.__name__}.npy", ids,
                                       PARAMS, 0.5, tmp_path / f"prediction_{dtype.__name__}.npy")
    full, half = (np.load(tmp_path / f"prediction_{d.__name__}.npy") for d in (np.float32, np.float16))
    assert np.linalg.norm(half - full) / np.linalg.norm(full) < 1e-3
    assert np.all(np.isfinite(results[np.float16].image_r))
    # r is NaN only for a target float16 rounds to a constant over the test images (c's start-token rows)
    assert np.mean(np.isnan(results[np.float16].target_r)) <= 64 / values.shape[1]   # one token row of 64
    assert np.mean(results[np.float16].alphas == results[np.float32].alphas) > 0.99


def test_training_betas_averaged_per_image_in_id_order():
    x = np.array([[1.0, 2.0], [3.0, 4.0], [10.0, 20.0], [5.0, 6.0]], dtype=np.float32)
    ids = np.array([7, 3, 7, 3])
    averaged, images = decode.average_by_image(x, ids)
    assert images.tolist() == [3, 7]
    np.testing.assert_allclose(averaged, [[4.0, 5.0], [5.5, 11.0]])
