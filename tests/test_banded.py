"""Banded ridge joint models (encode.joint: banded) against the concatenated one, and their comparison."""
import copy
from dataclasses import replace

import numpy as np
import pandas as pd
import pytest
import yaml
from sklearn.model_selection import KFold

from conftest import ROOT, snakemake
from sdbrain.errors import ArgumentError
from sdbrain.linear import banded, encode, partition, ridge
from sdbrain.workflow.config import validate_config
from test_workflow import planned_jobs

RIDGE = ridge.Settings([10.0 ** k for k in range(-1, 8)], folds=5, fit_intercept=True, n_targets_batch=10000,
                       backend="torch")
PARAMS = encode.Settings(RIDGE, fdr_q=0.05, voxel_block=100000)
BAND = banded.Settings(n_iter=20, concentration=(0.1, 1.0))
SEED = 0


def two_spaces(rng, n_train, n_test, n_voxels, widths, shares):
    """Spaces of ``widths`` columns; each voxel's response is each space's signal with a known share
    of the variance (``shares``) plus noise for the rest."""
    xs = [rng.normal(size=(n_train + n_test, w)) for w in widths]
    y = np.sqrt(1 - sum(shares)) * rng.normal(size=(n_train + n_test, n_voxels))
    for x, share in zip(xs, shares):
        signal = x @ rng.normal(size=(x.shape[1], n_voxels))
        y += np.sqrt(share) * signal / signal.std(0)
    split = lambda a: (a[:n_train].astype(np.float32), a[n_train:].astype(np.float32))  # noqa: E731
    return [split(x) for x in xs], split(y)


@pytest.mark.parametrize("solver", ["eigh", "himalaya"])
def test_banded_split_recovers_each_spaces_share_where_one_alpha_does_not(solver):
    """A narrow space (8 columns) carries 40% of the variance, a wide one (256 columns) none. One alpha
    for both must be large to keep the wide space from overfitting, which shrinks the narrow one's part;
    banded ridge penalises each space on its own. (The folds' 240 trials are fewer than the 264 columns:
    the eigh solver's dual form.)"""
    truth = np.array([0.4, 0.0])
    spaces, (y_train, y_test) = two_spaces(np.random.default_rng(0), 300, 400, 40, (8, 256), truth)
    train, test = [x for x, _ in spaces], [x for _, x in spaces]
    rows = np.arange(len(y_train))
    fit = banded.fit_voxels(train, rows, test, y_train, y_test, PARAMS, replace(BAND, solver=solver), SEED)
    assert fit.backend.startswith({"eigh": "banded eigh/", "himalaya": "himalaya BandedRidgeCV/"}[solver])
    tolerance = 0.05  # on the mean over voxels; the sampling spread of one voxel's split is about 0.04
    assert np.all(np.abs(fit.split.mean(1) - truth) < tolerance), fit.split.mean(1)
    assert np.median(fit.alphas[1]) > 100 * np.median(fit.alphas[0]), "the wide, signal-free space is penalised more"

    concatenated = ridge.fit(np.hstack(train), y_train, RIDGE)
    split = banded.split_r2(y_test, split_by_space(test, concatenated)).mean(1)
    assert abs(split[0] - truth[0]) > 3 * tolerance, f"one alpha shrinks the narrow space's part: {split}"
    assert split[1] < -tolerance / 2, f"and the wide space's part is negative: {split}"

    # the paper's unique variance of the wide space, R2(joint) - R2(narrow alone), is clearly negative
    # with one alpha and about zero with banded ridge
    alone = encode.fit_voxels(train[0], rows, test[0], y_train, y_test, PARAMS).r
    joint = encode.fit_voxels(np.hstack(train), rows, np.hstack(test), y_train, y_test, PARAMS).r
    assert encode.unique_variance(joint, alone).mean() < -0.1
    assert abs(encode.unique_variance(fit.r, alone).mean()) < 0.02


def split_by_space(x_test: list, model: ridge.RidgeFit) -> np.ndarray:
    """A concatenated model's test prediction split by space, as banded ridge splits its own: (spaces, test images,
    voxels)."""
    standardised = model.standardiser(np.hstack(x_test))
    edges = np.cumsum([0] + [x.shape[1] for x in x_test])
    return np.stack([standardised[:, lo:hi] @ model.weights[lo:hi] for lo, hi in zip(edges[:-1], edges[1:])])


def standardised(xs, rows, tests):
    """The spaces as fit_voxels hands them to a solver (trial rows, standardised on them)."""
    scalers = [ridge.Standardiser.fit(x[rows]) for x in xs]
    return [s(x[rows]) for s, x in zip(scalers, xs)], [s(x) for s, x in zip(scalers, tests)]


def test_eigh_solver_makes_himalayas_choices():
    """150 images seen twice (300 trials), spaces of 10 and 40 columns, 50 voxels with signal from both,
    5 folds, 5 band weights: the eigh solver picks himalaya's band weight and alpha for every voxel, and
    each space's part of the test prediction agrees with himalaya's to float32 rounding."""
    (a, b), (y_train, _) = two_spaces(np.random.default_rng(3), 300, 60, 50, (10, 40), (0.2, 0.2))
    rows = np.r_[np.arange(150), np.arange(150)]
    train, test = standardised([a[0][:150], b[0][:150]], rows, [a[1], b[1]])
    band = banded.Settings(n_iter=5, concentration=(0.1, 1.0))
    ridge.choose_backend("torch")
    folds = KFold(n_splits=5, shuffle=False)
    parts, penalties = banded.fit_block(train, y_train, test, RIDGE, band, SEED, folds)
    eigh_parts = np.zeros_like(parts)
    eigh_penalties = np.zeros_like(penalties)
    search = banded.EighSearch(train, test, RIDGE, band, SEED, folds)
    for index, part, penalty in search.fit(lambda i: y_train[:, i], y_train.shape[1], y_train.shape[1]):
        eigh_parts[:, :, index], eigh_penalties[:, index] = part, penalty
    # measured: 50 of 50 equal, parts within 1.2e-6 of the largest part (seeds 0-3, n_iter 5 and 20)
    assert np.isclose(eigh_penalties, penalties, rtol=1e-4).all(0).sum() == 50
    assert np.abs(eigh_parts - parts).max() < 1e-4 * np.abs(parts).max()


def test_eigh_decompositions_do_not_grow_with_voxel_blocks(monkeypatch):
    """n_iter x folds eigendecompositions for the search and one per chosen band weight for the refit,
    however the voxels are batched (encode.voxel_block, n_targets_batch)."""
    import torch
    calls = []
    eigh = torch.linalg.eigh

    def counted(gram):
        calls.append(gram.shape)
        return eigh(gram)

    monkeypatch.setattr(torch.linalg, "eigh", counted)
    (a, b), (y_train, y_test) = two_spaces(np.random.default_rng(4), 200, 30, 24, (5, 12), (0.3, 0.3))
    args = ([a[0], b[0]], np.arange(200), [a[1], b[1]], y_train, y_test)
    band = banded.Settings(n_iter=4, concentration=(1.0,))
    counts = []
    for size in (24, 5, 1):
        calls.clear()
        settings = encode.Settings(replace(RIDGE, n_targets_batch=size), voxel_block=size)
        banded.fit_voxels(*args, settings, band, SEED)
        counts.append(len(calls))
    search = 4 * RIDGE.folds
    assert counts[0] == counts[1] == counts[2] and search < counts[0] <= search + 4, counts


def test_split_r2_sums_to_the_joint_r2():
    rng = np.random.default_rng(1)
    observed = rng.normal(size=(50, 6))
    parts = np.stack([observed * 0.5 + rng.normal(size=observed.shape), 0.3 * rng.normal(size=observed.shape)])
    y, joint = observed - observed.mean(0), parts.sum(0) - parts.sum(0).mean(0)
    r2 = 1 - ((y - joint) ** 2).sum(0) / (y ** 2).sum(0)
    assert np.allclose(banded.split_r2(observed, parts).sum(0), r2)
    flat = banded.split_r2(np.ones((50, 2)), parts[:, :, :2])
    assert np.array_equal(flat, np.zeros((2, 2))), "a voxel constant over the test images explains nothing"


@pytest.mark.parametrize("solver", ["eigh", "himalaya"])
def test_banded_voxel_blocks_do_not_change_results(solver):
    (a, b), (y_train, y_test) = two_spaces(np.random.default_rng(2), 120, 30, 11, (3, 6), (0.3, 0.3))
    rows = np.r_[np.arange(60), np.arange(60)]  # each training image seen twice
    band = banded.Settings(n_iter=4, concentration=(1.0,), solver=solver)
    args = ([a[0][:60], b[0][:60]], rows, [a[1], b[1]], y_train, y_test)
    whole = banded.fit_voxels(*args, PARAMS, band, SEED)
    blocks = banded.fit_voxels(*args, replace(PARAMS, voxel_block=4), band, SEED)
    assert np.allclose(whole.r, blocks.r, atol=1e-5) and np.allclose(whole.split, blocks.split, atol=1e-5)
    assert np.allclose(whole.alphas, blocks.alphas)
    some = banded.fit_voxels(*args, replace(PARAMS, voxel_block=2), band, SEED, columns=[0, 5, 10])
    assert np.allclose(some.r, whole.r[[0, 5, 10]], atol=1e-5)


NSD_BLOCKS = encode.Settings(ridge.Settings([1.0 + k for k in range(8)], folds=5), memory_mb=16000, voxel_block=50000)


def test_banded_blocks_leave_room_for_the_hat_matrices():
    # NSD: 24,980 trials, 8 alphas x 4,996 validation x 19,984 training trials x 4 bytes = 3,047 MB
    hat = 8 * 4996 * 19984 * 4 / 2**20
    assert banded.block_size(NSD_BLOCKS, "himalaya", 24980, 12800, 982) == encode.planned_block(24980, 12800, 982,
                                                                                             16000 - hat)
    with pytest.raises(ArgumentError, match="^argument 'memory_mb': 3000 MB does not hold banded ridge's hat "
                                            "matrices \\(3047 MB for 8 alphas and 24980 trials\\)"):
        banded.block_size(replace(NSD_BLOCKS, memory_mb=3000), "himalaya", 24980, 12800, 982)


def test_eigh_batches_leave_room_for_the_decompositions():
    # NSD: 24,980 trials, 6,400 + 6,400 features, 982 test images: ~9 GB fixed, ~0.4 MB per voxel
    assert 15000 < banded.block_size(NSD_BLOCKS, "eigh", 24980, 12800, 982) < 20000
    with pytest.raises(ArgumentError, match="^argument 'memory_mb': 3000 MB does not hold banded ridge's "
                                            "decompositions"):
        banded.block_size(replace(NSD_BLOCKS, memory_mb=3000), "eigh", 24980, 12800, 982)
    with pytest.raises(ArgumentError, match="^argument 'solver': 'svd' is not one of eigh, himalaya"):
        banded.Settings(solver="svd")


def test_negative_shares_rows_and_agreement_on_known_values():
    assert partition.negative_shares(np.array([-0.02, -0.005, 0.0, 0.1]), 0.01) == (0.5, 0.25)
    assert np.isnan(partition.negative_shares(np.array([]), 0.01)[0])
    table = pd.DataFrame({"voxel": range(6), "roi": ["early"] * 3 + ["ventral"] * 3,
                          "significant": [1, 1, 0, 1, 1, 1], "unique_z": [0.2, -0.03, -1.0, 0.0, -0.005, 0.01],
                          "unique_zc0.5": [-0.02, 0.1, -1.0, 0.3, 0.2, 0.1],
                          "split_z": [0.3, 0.1, 0.0, 0.0, 0.1, 0.0], "split_zc0.5": [0.0, 0.2, 0.0, 0.3, 0.0, 0.2]})
    early, ventral, everything = partition.roi_rows(table, "zc0.5", 0.01)
    assert everything["roi"] == "all" and everything["significant_voxels"] == 5
    assert everything["clearly_negative_z"] == pytest.approx(1 / 5)
    assert early == {"roi": "early", "significant_voxels": 2, "negative_z": 0.5, "clearly_negative_z": 0.5,
                     "mean_unique_z": pytest.approx(0.085), "negative_other": 0.5, "clearly_negative_other": 0.5,
                     "mean_unique_other": pytest.approx(0.04), "mean_split_z": pytest.approx(0.2),
                     "mean_split_other": pytest.approx(0.1)}
    assert ventral["negative_z"] == pytest.approx(1 / 3) and ventral["clearly_negative_z"] == 0.0
    to_z = partition.attributions(table, "zc0.5")
    assert to_z["unique"].tolist() == [True, False, False, False, False, False]
    assert to_z["split"].tolist() == [True, False, False, False, True, False]
    classes = np.array([1, 1, 1, 2, 2, 0])
    significant = table["significant"].to_numpy() == 1
    assert partition.agreement(to_z["split"], significant, classes) == {
        "early_voxels": 2, "early_to_z": 0.5, "ventral_voxels": 2, "ventral_to_other": 0.5, "right": 0.5}
    assert partition.agreement(to_z["unique"], significant, classes)["right"] == pytest.approx(3 / 4)


def test_truth_classes_are_matched_by_voxel(tmp_path):
    np.savez(tmp_path / "s.npz", voxels=np.array([3, 7, 9, 12]), voxel_class=np.array([1, 2, 3, 0]))
    assert partition.truth_classes(tmp_path / "s.npz", np.array([7, 12])).tolist() == [2, 0]
    with pytest.raises(Exception, match="s.npz: the toy truth lacks some of the subject's brain-mask voxels"):
        partition.truth_classes(tmp_path / "s.npz", np.array([7, 8]))


def test_banded_figures_need_banded_models():
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    defaults = validate_config(copy.deepcopy(config), ROOT / "config/schema.yaml")["encode"]
    config["encode"]["joint_maps"] = "banded"
    with pytest.raises(Exception, match="config key 'encode.joint_maps': banded maps need encode.joint: banded"):
        validate_config(config, ROOT / "config/schema.yaml")
    assert (defaults["joint"], defaults["joint_maps"]) == ("concatenated", "concatenated")


def test_banded_jobs_are_planned_only_when_asked_for(tmp_path):
    """The default DAG (test_workflow) has none; encode.joint: banded adds one banded model per
    joint model, a comparison and a flatmap job per subject, and Figs. 7-8 can take the banded maps."""
    result = snakemake("-n", "--config", 'encode={"joint": "banded", "joint_maps": "banded"}', cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    jobs = planned_jobs(result.stdout)
    assert (jobs["encode_banded"], jobs["encode_compare"], jobs["flatmaps_banded"]) == (2 * 6, 2, 2)
    default = planned_jobs(snakemake("-n", cwd=tmp_path).stdout)
    assert {rule: n - default.get(rule, 0) for rule, n in jobs.items() if n != default.get(rule, 0)} == {
        "encode_banded": 12, "encode_compare": 2, "flatmaps_banded": 2}, "nothing else is added"
    assert "results/encode/subj01/z+zc0.5/banded/unique_zc0.5.nii.gz" in result.stdout
    fig7 = result.stdout.split("output: results/figures/fig7.png")[0].rsplit("rule encoding_figure", 1)[1]
    assert "z+zc0.25/banded/unique_z.nii.gz" in fig7 and "z+zc0.25/unique_z.nii.gz" not in fig7
