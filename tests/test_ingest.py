"""Ingestion: split sizes, row order, averaging, exclusions, and agreement with the toy's ground truth."""
import h5py
import numpy as np
import pandas as pd
import pytest

from conftest import ROIS, SMALL
from sdbrain.data import ingest, nsd
from sdbrain.data.io import read_ids

SUBJECTS = ["subj01", "subj02"]
SESSIONS = [1, 2]  # hold session 3 back, as the paper held back sessions 38-40


@pytest.fixture(scope="module")
def ingested(toy_tree, tmp_path_factory):
    out = tmp_path_factory.mktemp("fmri")
    test = nsd.test_ids(toy_tree, SUBJECTS, SESSIONS)
    report = ingest.ingest_subject(toy_tree, "subj01", SESSIONS, ROIS, test, out)
    return out, test, report


def test_split_sizes_and_order(toy_tree, ingested):
    out, test, report = ingested
    trials = nsd.read_responses(toy_tree.responses("subj01"), SESSIONS)
    shared = set(nsd.read_sharedix(toy_tree.expdesign))
    seen_by_all = shared.copy()
    for s in SUBJECTS:
        seen_by_all &= set(nsd.read_responses(toy_tree.responses(s), SESSIONS)["73KID"])
    assert set(test) == seen_by_all and 0 < len(test) <= SMALL["n_shared"]
    train_ids = read_ids(out / "train_ids.tsv")
    expected_train = trials.loc[~trials["73KID"].isin(test), "73KID"].to_numpy()
    assert np.array_equal(train_ids, expected_train), "training rows are single trials in acquisition order"
    assert np.array_equal(read_ids(out / "test_ids.tsv"), test)
    for roi in ROIS:
        x = np.load(out / f"train_{roi}.npy")
        assert x.dtype == np.float32 and x.shape[0] == len(expected_train)
        assert np.load(out / f"test_{roi}.npy").shape[0] == len(test)
    assert (report["train_trials"] == len(expected_train)).all()
    assert (report["test_trials"] == trials["73KID"].isin(test).sum()).all()


def test_values_match_raw_betas(toy_tree, ingested):
    """Compare with a direct read of the HDF5 files: scale, voxel order, repeat averaging."""
    out, test, _ = ingested
    trials = nsd.read_responses(toy_tree.responses("subj01"), SESSIONS)
    early = nsd.roi_mask(nsd.read_volume(toy_tree.roi("subj01", "streams")), [1])
    raw = []
    for session in SESSIONS:
        with h5py.File(toy_tree.betas("subj01", session), "r") as f:
            raw.append(f["betas"][:][:, early] / 300.0)
    raw = np.concatenate(raw)
    is_test = trials["73KID"].isin(test).to_numpy()
    assert np.allclose(np.load(out / "train_early.npy"), raw[~is_test], atol=1e-6)
    image = test[0]
    expected = raw[trials["73KID"].to_numpy() == image].mean(0)
    assert np.allclose(np.load(out / "test_early.npy")[0], expected, atol=1e-6)
    voxels = pd.read_csv(out / "voxels_early.tsv", sep="\t")
    assert np.array_equal(voxels["voxel"], np.flatnonzero(early))


def test_ingested_betas_recover_ground_truth(toy_tree, ingested):
    out, _, _ = ingested
    truth = np.load(toy_tree.root.parent / "truth" / "subj01.npz")
    row = {int(i): r for r, i in enumerate(truth["signal_ids"])}
    for split in ("train", "test"):
        x, ids, voxels = ingest.load_betas(out, "brain", split)
        columns = np.searchsorted(truth["voxels"], voxels["voxel"].to_numpy())
        signal = truth["signal"][[row[int(i)] for i in ids]][:, columns]
        residual = x - signal
        assert abs(residual.mean()) < 4 * SMALL["noise_sd"] / np.sqrt(residual.size)  # 4 standard errors
        if split == "train":  # single trials: residual is the generator's noise
            assert residual.std() == pytest.approx(SMALL["noise_sd"], rel=0.02)
        else:  # averaged over repeats: noise shrinks
            assert residual.std() < 0.8 * SMALL["noise_sd"]


def test_zscore_per_session(toy_tree, tmp_path):
    test = nsd.test_ids(toy_tree, SUBJECTS, [1])
    ingest.ingest_subject(toy_tree, "subj01", [1], {"early": ROIS["early"]}, test, tmp_path, zscore=True)
    # every trial of session 1 is in train or test; reassemble the session to check its statistics
    x = np.load(tmp_path / "train_early.npy")
    raw = ingest.read_session(toy_tree.betas("subj01", 1), np.flatnonzero(
        nsd.roi_mask(nsd.read_volume(toy_tree.roi("subj01", "streams")), [1])), 300.0, 7)
    z = ingest.zscore_session(raw)
    assert np.allclose(z.mean(0), 0, atol=1e-5) and np.allclose(z.std(0), 1, atol=1e-4)
    trials = nsd.read_responses(toy_tree.responses("subj01"), [1])
    assert np.allclose(x, z[~trials["73KID"].isin(test).to_numpy()], atol=1e-5)


def test_nonfinite_and_constant_voxels_are_excluded_and_reported(copy_tree, tmp_path):
    streams = nsd.read_volume(copy_tree.roi("subj01", "streams"))
    early = np.flatnonzero(streams == 1)
    with h5py.File(copy_tree.betas("subj01", 1), "r+") as f:
        data = f["betas"][:]
        flat = data.reshape(len(data), -1)
        flat[:, early[0]] = 0            # constant (all-zero) voxel
        flat[3, early[1]] = -32768       # a sentinel, then made NaN below through a float copy
        f["betas"][:] = data
    # NaN cannot live in int16; simulate it at the reader, as a float NSD derivative would carry it
    original = ingest.read_session

    def with_nan(path, columns, scale, block):
        x = original(path, columns, scale, block)
        x[x == -32768 / scale] = np.nan
        return x

    ingest.read_session = with_nan
    try:
        test = nsd.test_ids(copy_tree, SUBJECTS, [1])
        for s in (2, 3):  # constant in every session, not just one
            with h5py.File(copy_tree.betas("subj01", s), "r+") as f:
                data = f["betas"][:]
                data.reshape(len(data), -1)[:, early[0]] = 0
                f["betas"][:] = data
        report = ingest.ingest_subject(copy_tree, "subj01", [1, 2, 3], {"early": ROIS["early"]}, test, tmp_path)
    finally:
        ingest.read_session = original
    row = report.iloc[0]
    assert row["excluded_nonfinite"] == 1 and row["excluded_constant"] == 1
    x, _, voxels = ingest.load_betas(tmp_path, "early", "train")
    assert x.shape[1] == early.size - 2 and np.isfinite(x).all()
    assert early[0] not in set(voxels["voxel"]) and early[1] not in set(voxels["voxel"])
