"""The validity analysis's controls and tables (sdbrain.evaluation.controls, sdbrain.evaluation.validity_tables) on
cases built by hand: what each control must score is known by construction."""
import numpy as np
import pandas as pd
import pytest

from sdbrain.errors import InputError
from sdbrain.evaluation import controls
from sdbrain.evaluation import validity_tables as vt

P = vt.Settings(seed=0, memory_mb=1, pools=20, n_way=(2, 10, 50), top=(1, 5), bootstrap=200, permutations=500,
                collapse_k=3)


def test_generated_inputs_are_the_truth_and_the_training_mean():
    rng = np.random.default_rng(0)
    z, c = rng.normal(size=(10, 4)).astype(np.float32), rng.normal(size=(10, 6)).astype(np.float32)
    ids = np.arange(101, 111)
    test, train = np.array([103, 101]), np.array([104, 105, 105, 110])
    out = controls.generated_inputs(z, ids, c, ids[::-1], test, train)
    assert np.array_equal(out["ceiling"]["z"], z[[2, 0]]) and np.array_equal(out["ceiling"]["c"], c[[7, 9]])
    assert np.allclose(out["mean"]["z"], z[[3, 4, 9]].mean(0)) and out["mean"]["z"].shape == (2, 4)
    with pytest.raises(InputError, match="also training images, e.g. 73k ids \\[104\\]"):
        controls.generated_inputs(z, ids, c, ids, np.array([104]), train)


def test_shuffled_permutation_moves_every_image_and_is_seeded():
    order = controls.permutation(40, 0)
    assert sorted(order) == list(range(40)) and not (order == np.arange(40)).any()
    assert np.array_equal(order, controls.permutation(40, 0)) and not np.array_equal(order, controls.permutation(40, 1))


def world(n_test=30, n_train=200, d=16, seed=0):
    """Training and test items in clusters; each image's late feature, z and c are noisy views of it."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(6, d))
    train = centres[rng.integers(6, size=n_train)] + 0.3 * rng.normal(size=(n_train, d))
    test = centres[rng.integers(6, size=n_test)] + 0.3 * rng.normal(size=(n_test, d))
    view = lambda x: (x + 0.05 * rng.normal(size=x.shape)).astype(np.float32)  # noqa: E731
    return train, test, view


def subject_with(decoded_of, n_test=30, n_train=200):
    train, test, view = world(n_test, n_train)
    decoded = decoded_of(train, test)
    recon = {"zc": np.stack([view(decoded), view(decoded)], 1)}
    return vt.Subject(test_ids=np.arange(1, n_test + 1), originals=view(test), train=view(train),
                      train_ids=np.arange(1000, 1000 + n_train), recon=recon,
                      decoded={"z": view(decoded), "c": view(decoded)}, true_test={"z": test, "c": test},
                      true_train={"z": train, "c": train})


def late_means(subject):
    generated = {"ceiling": np.stack([subject.originals] * 2, 1), "mean": np.stack([subject.train.mean(0)
                                                                                    + 0 * subject.originals] * 2, 1)}
    methods, order, retrieved = vt.with_controls(subject, generated, "zc", P)
    long = vt.scores(subject, methods, order, retrieved, P)
    late = long[long["space"] == "late"]
    return late.groupby(["method", "metric"])["value"].mean().unstack(), long, retrieved


def test_a_retrieving_decoder_scores_as_the_retrieval_control():
    # the decoder returns the nearest training item of each test image: pure retrieval
    def nearest(train, test):
        r = np.corrcoef(test, train)[:len(test), len(test):]
        return train[r.argmax(1)]
    means, long, retrieved = late_means(subject_with(nearest))
    # two-way identification is high for both, yet novel identification exposes both
    assert means.loc["zc", "twoway"] > 0.7 and means.loc["retrieval", "twoway"] > 0.7
    assert abs(means.loc["zc", "twoway"] - means.loc["retrieval", "twoway"]) < 0.1
    assert means.loc["retrieval", "cplus1_top1"] == 0  # a training item equals it exactly: the truth never wins
    assert means.loc["ceiling", "twoway"] == 1 and means.loc["ceiling", "cplus1_top1"] == 1
    # the shuffled control and the mean sit near chance; 50-way is skipped with 30 test images
    assert abs(means.loc["shuffled", "twoway"] - 0.5) < 0.2 and means.loc["mean", "twoway"] < 0.7
    assert "50way" not in means.columns and "10way" in means.columns


def test_summary_groups_and_tests():
    subject = subject_with(lambda train, test: test)  # a perfect decoder
    means, long, _ = late_means(subject)
    novelty = vt.novelty(subject, P, pd.Series(["pair"] * 5 + [""] * 25, index=np.arange(1, 31)))
    assert (novelty["tertile"].value_counts() == 10).all() and (novelty["toy_novel"] != "").sum() == 5
    most_novel = novelty.loc[novelty["r_late"].idxmin()]
    assert most_novel["novelty_rank"] == 1 and most_novel["tertile"] == "novel"
    assert sorted(novelty["novelty_rank"]) == list(range(1, 31))
    table = vt.summary(long, novelty, P)
    cell = table[(table["space"] == "late") & (table["method"] == "zc") & (table["metric"] == "twoway")]
    assert set(cell["group"]) == {"all", "tertile:familiar", "tertile:middle", "tertile:novel", "toy:familiar", "toy:novel"}
    assert cell.set_index("group").loc["toy:novel", "n"] == 5
    assert (cell["ci_low"] <= cell["mean"]).all() and (cell["mean"] <= cell["ci_high"]).all()
    tests = vt.tests(long, P)
    same = tests[(tests["method_a"] == "zc") & (tests["method_b"] == "ceiling") & (tests["metric"] == "twoway")]
    assert same["p"].iloc[0] > 0.05  # a perfect decoder is indistinguishable from the ceiling
    far = tests[(tests["method_a"] == "zc") & (tests["method_b"] == "shuffled") & (tests["metric"] == "twoway")]
    assert far["p"].iloc[0] < 0.01


def test_collapse_of_a_decoder_confined_to_two_training_components():
    def confined(train, test):  # the decoded features: the test items projected on the training's top 2 PCs
        mean = train.mean(0)
        top = np.linalg.svd(train - mean, full_matrices=False)[2][:2]
        return (test - mean) @ top.T @ top + mean
    table = vt.collapse(subject_with(confined), P).set_index(["target", "features"])
    decoded, true = table.loc[("z", "decoded")], table.loc[("z", "true")]
    assert decoded["share_in_top_k"] > 0.95 and true["share_in_top_k"] < decoded["share_in_top_k"] - 0.1
    assert decoded["participation_ratio"] < 2.2 < true["participation_ratio"]
