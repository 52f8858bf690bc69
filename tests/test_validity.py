"""Checks of validity (sdbrain.evaluation.validity) on hand-built cases with known answers."""
import tracemalloc
from math import comb

import numpy as np
import pytest

from sdbrain.errors import InputError
from sdbrain.evaluation import validity as v

TINY = 1e-9  # MiB: one training row per block


def correlated(u: np.ndarray, r: float, rng) -> np.ndarray:
    """A vector whose Pearson r with u is exactly r (up to rounding): r u' + sqrt(1 - r^2) w, with u' and w
    centred, unit-norm and orthogonal."""
    u = (u - u.mean()) / np.linalg.norm(u - u.mean())
    w = rng.normal(size=u.size)
    w -= w.mean()
    w -= (w @ u) * u
    return r * u + np.sqrt(1 - r ** 2) * w / np.linalg.norm(w)


def pearson(a, b):
    a = a - a.mean(1, keepdims=True)
    b = b - b.mean(1, keepdims=True)
    return (a / np.linalg.norm(a, axis=1, keepdims=True)) @ (b / np.linalg.norm(b, axis=1, keepdims=True)).T


@pytest.fixture(scope="module")
def world():
    rng = np.random.default_rng(0)
    return {"train": rng.normal(size=(300, 64)).astype(np.float32),
            "test": rng.normal(size=(25, 64)).astype(np.float32)}


# --- nearest training item and novelty ---------------------------------------------------------

def test_nearest_training_finds_an_affine_copy():
    rng = np.random.default_rng(1)
    train = rng.normal(size=(20, 30))
    index, r = v.nearest_training(3 * train[[4, 0, 17]] - 2, train, memory_mb=100)
    assert index.tolist() == [4, 0, 17] and np.allclose(r, 1, atol=1e-6)


def test_nearest_training_blocked_equals_unblocked_and_brute_force(world):
    one, r_one = v.nearest_training(world["test"], world["train"], memory_mb=TINY)
    seven, r_seven = v.nearest_training(world["test"], world["train"], memory_mb=7 * 4 * (64 + 3 * 25) / 2 ** 20
                                        + world["test"].nbytes / 2 ** 20)
    whole, r_whole = v.nearest_training(world["test"], world["train"], memory_mb=100)
    assert v.block_rows(25, 64, TINY) == 1 and v.block_rows(25, 64, 100) >= 300
    brute = pearson(world["test"].astype(float), world["train"].astype(float))
    assert one.tolist() == seven.tolist() == whole.tolist() == brute.argmax(1).tolist()
    assert np.allclose(r_one, r_whole, atol=1e-6) and np.allclose(r_seven, brute.max(1), atol=1e-6)


def test_an_exact_tie_goes_to_the_lowest_index_across_blocks():
    rng = np.random.default_rng(2)
    train = rng.normal(size=(10, 16))
    train[7] = train[2]
    for memory_mb in (TINY, 100):
        assert v.nearest_training(train[[2]], train, memory_mb)[0].tolist() == [2]


def test_memory_stays_within_the_budget():
    rng = np.random.default_rng(3)
    test, train = rng.normal(size=(40, 3000)).astype(np.float32), rng.normal(size=(2000, 3000)).astype(np.float32)
    tracemalloc.start()
    v.nearest_training(test, train, memory_mb=4)
    v.novel_identification(test, test[::-1], train, memory_mb=4)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 4.4 * 2 ** 20, peak / 2 ** 20  # training data alone: 23 MiB


def test_novelty_tertiles_by_rank_with_ties_by_index():
    novelty = np.array([0.5, 0.1, 0.9, 0.1, 0.3, 0.7, 0.2])
    # order: 1, 3 (tie, by index), 6 | 4, 0 | 5, 2
    assert v.novelty_tertiles(novelty).tolist() == ["middle", "familiar", "novel", "familiar", "middle", "novel",
                                                    "familiar"]
    labels = v.novelty_tertiles(np.zeros(9))
    assert labels.tolist() == ["familiar"] * 3 + ["middle"] * 3 + ["novel"] * 3


# --- C+1-way identification ---------------------------------------------------------------------

def test_novel_identification_known_ranks():
    rng = np.random.default_rng(4)
    train = rng.normal(size=(50, 400))
    truth = rng.normal(size=(3, 400))
    truth[1] = correlated(train[7], 0.7, rng)
    decoded = np.stack([truth[0],                            # the truth itself: beats every training item
                        train[7],                            # a training item exactly (r 0.7 with the truth): it wins
                        correlated(truth[2], 0.8, rng)])     # r 0.8 with the truth; random training items ~0.05
    train[20] = correlated(decoded[2], 0.9, rng)             # ... but one training item has 0.9
    rank, accuracy = v.novel_identification(decoded, truth, train, memory_mb=100)
    assert rank.tolist() == [1, 2, 2]
    assert np.allclose(accuracy, [1, 49 / 50, 49 / 50])


def test_a_training_item_tied_with_the_truth_ranks_above_it():
    rng = np.random.default_rng(5)
    train = rng.normal(size=(30, 200))
    truth = train[[3, 11]] * 2 + 1  # duplicates of training items (r = 1 with them)
    decoded = np.stack([correlated(t, 0.6, rng) for t in truth])
    for memory_mb in (TINY, 100):
        rank, accuracy = v.novel_identification(decoded, truth, train, memory_mb)
        assert rank.tolist() == [2, 2] and np.allclose(accuracy, 29 / 30)


def test_novel_identification_blocked_equals_unblocked_and_brute_force(world):
    rng = np.random.default_rng(6)
    truth = world["test"]
    decoded = truth + 2 * rng.normal(size=truth.shape).astype(np.float32)
    rank, accuracy = v.novel_identification(decoded, truth, world["train"], memory_mb=TINY)
    rank_whole, accuracy_whole = v.novel_identification(decoded, truth, world["train"], memory_mb=100)
    assert rank.tolist() == rank_whole.tolist() and accuracy.tolist() == accuracy_whole.tolist()
    own = np.diag(pearson(decoded.astype(float), truth.astype(float)))
    beaten = (pearson(decoded.astype(float), world["train"].astype(float)) >= own[:, None]).sum(1)
    assert rank.tolist() == (1 + beaten).tolist() and 1 < rank.max() < 300


# --- N-way identification and retrieval ranks ----------------------------------------------------

@pytest.mark.parametrize("n", [2, 3, 10, 12])
def test_identity_similarity_is_always_identified(n):
    assert v.n_way_identification(np.eye(12), n, n_pools=20, seed=0).tolist() == [1.0] * 12


@pytest.mark.parametrize("n", [2, 5])
def test_constant_similarity_always_fails(n):
    assert v.n_way_identification(np.full((8, 8), 0.3), n, n_pools=20, seed=0).tolist() == [0.0] * 8


def test_two_way_is_the_exact_share_of_pairs():
    s = np.array([[0.9, 0.1, 0.95],
                  [0.2, 0.5, 0.5],    # tie with item 2: fails that pair
                  [0.0, 0.1, 0.4]])
    assert v.n_way_identification(s, 2, n_pools=1, seed=0).tolist() == [0.5, 0.5, 1.0]


def test_pools_are_fixed_valid_and_independent_of_the_values():
    pools = v.candidate_pools(15, 4, 30, seed=7)
    assert pools.shape == (15, 30, 3) and np.array_equal(pools, v.candidate_pools(15, 4, 30, seed=7))
    assert not np.array_equal(pools, v.candidate_pools(15, 4, 30, seed=8))
    for i, rows in enumerate(pools):
        assert (rows != i).all() and all(len(set(row)) == 3 for row in rows) and rows.min() >= 0 and rows.max() < 15
    rng = np.random.default_rng(8)
    for s in (rng.normal(size=(15, 15)), rng.normal(size=(15, 15)) * 100):
        manual = [(s[i, i] > s[i, pools[i]]).all(1).mean() for i in range(15)]
        assert np.allclose(v.n_way_identification(s, 4, 30, seed=7), manual)


def test_n_way_near_chance_for_random_similarity_and_top1_at_n_test():
    rng = np.random.default_rng(9)
    s = rng.normal(size=(60, 60))
    # item i with m_i others below its truth: expected accuracy C(m_i, 4) / C(59, 4) over random pools
    below = (np.diag(s)[:, None] > s).sum(1)
    expected = np.array([comb(m, 4) / comb(59, 4) for m in below])
    assert abs(v.n_way_identification(s, 5, n_pools=200, seed=1).mean() - expected.mean()) < 0.02
    # all others in every pool: N-way at n = n_test is top-1 retrieval
    assert np.array_equal(v.n_way_identification(s, 60, n_pools=3, seed=1), (v.retrieval_ranks(s) == 1).astype(float))


def test_retrieval_ranks_with_one_better_and_one_tied():
    s = np.eye(6)
    s[0, 3] = 2.0   # item 0's truth beaten by exactly one other
    s[1, 4] = 1.0   # item 1's truth tied with another: the tie ranks above it
    ranks = v.retrieval_ranks(s)
    assert ranks.tolist() == [2, 2, 1, 1, 1, 1]
    hits = v.retrieval_hits(ranks)
    assert hits["top1"].tolist() == [0, 0, 1, 1, 1, 1] and hits["top5"].tolist() == [1] * 6
    assert list(v.retrieval_hits(ranks, ks=(1,))) == ["top1"]


# --- statistics -----------------------------------------------------------------------------------

def test_bootstrap_contains_the_mean_shrinks_and_is_paired():
    rng = np.random.default_rng(10)
    small, large = rng.normal(size=20), rng.normal(size=2000)
    low, high = v.bootstrap_ci(small, 1000, seed=0)
    assert low < small.mean() < high and (low, high) == v.bootstrap_ci(small, 1000, seed=0)
    low_l, high_l = v.bootstrap_ci(large, 1000, seed=0)
    assert low_l < large.mean() < high_l and (high_l - low_l) < (high - low) / 4
    assert high - low < np.subtract(*v.bootstrap_ci(small, 1000, seed=0, level=0.99)[::-1])
    # paired: the same images for every method, so a method shifted by one has its interval shifted by one
    both = v.bootstrap_ci(np.stack([small, small + 1]), 1000, seed=0)
    assert both.shape == (2, 2) and np.allclose(both[1], both[0] + 1) and np.allclose(both[0], (low, high))


def test_permutation_identical_large_and_against_exact_enumeration():
    rng = np.random.default_rng(11)
    a = rng.normal(size=30)
    assert v.paired_permutation(a, a.copy(), 500, seed=0) == 1.0
    assert v.paired_permutation(a + 5, a, 500, seed=0) == 1 / 501
    assert v.paired_permutation(a, a + 5, 500, seed=0) == 1 / 501
    # 8 images: all 256 sign flips enumerated give the exact p (which counts the observed flip itself)
    a, b = rng.normal(size=8) + 0.5, rng.normal(size=8)
    d = a - b
    flips = np.array(np.meshgrid(*[[-1, 1]] * 8)).reshape(8, -1).T
    exact = (np.abs(flips @ d) >= abs(d.sum()) - 1e-12).mean()
    p = v.paired_permutation(a, b, 20000, seed=1)
    assert abs(p - exact) < 0.01 and p == v.paired_permutation(a, b, 20000, seed=1)


def test_summary_rows():
    rng = np.random.default_rng(12)
    per_image = {"two_way": rng.uniform(size=50), "top1": (rng.uniform(size=30) < 0.2).astype(float)}
    table = v.summary_rows(per_image, n_boot=500, seed=0)
    assert table.columns.tolist() == ["metric", "mean", "ci_low", "ci_high", "n_images"]
    assert table["metric"].tolist() == ["two_way", "top1"] and table["n_images"].tolist() == [50, 30]
    assert np.allclose(table["mean"], [per_image["two_way"].mean(), per_image["top1"].mean()])
    assert ((table["ci_low"] < table["mean"]) & (table["mean"] < table["ci_high"])).all()
    assert (table.loc[0, "ci_low"], table.loc[0, "ci_high"]) == v.bootstrap_ci(per_image["two_way"], 500, 0)


# --- collapse -------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def collapse():
    """Training targets with variance in all 40 dims, 5 directions far stronger; true test vectors
    isotropic about the same mean; decoded vectors random combinations of the top 5 axes."""
    rng = np.random.default_rng(13)
    d, k = 40, 5
    axes = np.linalg.qr(rng.normal(size=(d, d)))[0].T
    scales = np.r_[[10, 8, 6, 5, 4], np.ones(d - k)]
    mean = rng.normal(size=d) * 3
    train = mean + (rng.normal(size=(600, d)) * scales) @ axes
    components, train_mean = v.training_components(train, k, seed=0)
    decoded = train_mean + rng.normal(size=(200, k)) @ components
    truth = mean + rng.normal(size=(200, d)) * 2
    return dict(train=train, axes=axes, k=k, components=components, mean=train_mean, decoded=decoded, truth=truth)


def test_training_components_match_an_exact_svd(collapse):
    c, train, k = collapse["components"], collapse["train"], collapse["k"]
    assert np.allclose(c @ c.T, np.eye(k), atol=1e-6) and np.allclose(collapse["mean"], train.mean(0))
    exact = np.linalg.svd(train - train.mean(0), full_matrices=False)[2][:k]
    assert np.abs(c.T @ c - exact.T @ exact).max() < 1e-3  # the same span (projectors agree)
    blocked, _ = v.training_components(train, k, seed=0, memory_mb=TINY)
    assert np.abs(blocked.T @ blocked - exact.T @ exact).max() < 1e-3


def test_collapsed_outputs_sit_in_the_training_span(collapse):
    k = collapse["k"]
    decoded = v.variance_in_span(collapse["decoded"], collapse["components"], collapse["mean"])
    truth = v.variance_in_span(collapse["truth"], collapse["components"], collapse["mean"])
    assert decoded > 0.999 and truth < 0.3  # isotropic truth: about k / d = 0.125 of its variance
    assert v.participation_ratio(collapse["decoded"]) <= k + 1e-6
    assert v.participation_ratio(collapse["truth"]) > 25


def test_variance_in_span_by_hand():
    components = np.eye(4)[:2]
    assert v.variance_in_span(np.array([[1.0, 1, 1, 1], [2, -2, 2, 2]]), components, np.zeros(4)) == pytest.approx(0.5)
    # centred by the training mean given, not the vectors' own
    assert v.variance_in_span(np.array([[3.0, 0, 1, 1]]), components, np.array([0, 0, 1, 1])) == pytest.approx(1.0)


def test_participation_ratio_of_isotropic_and_rank_one_data():
    rng = np.random.default_rng(14)
    assert v.participation_ratio(rng.normal(size=(5000, 10))) == pytest.approx(10, abs=0.3)
    assert v.participation_ratio(np.outer(rng.normal(size=100), rng.normal(size=30)) + 7) == pytest.approx(1.0)
    # columns in slices of 4096: the same as one slice
    wide = rng.normal(size=(20, 9000))
    gram = (wide - wide.mean(0)) @ (wide - wide.mean(0)).T
    assert v.participation_ratio(wide) == pytest.approx(np.trace(gram) ** 2 / (gram ** 2).sum())


# --- retrieval baseline ---------------------------------------------------------------------------

def test_retrieval_baseline_retrieves_a_copied_training_item(world):
    rng = np.random.default_rng(15)
    train_c = rng.normal(size=(300, 32)).astype(np.float32)
    picks = rng.choice(300, 25, replace=False)
    noise = 1e-3
    decoded = [world["train"][picks] + noise * rng.normal(size=(25, 64)),
               train_c[picks] + noise * rng.normal(size=(25, 32))]
    for memory_mb in (TINY, 100):
        assert v.retrieval_baseline(decoded, [world["train"], train_c], memory_mb).tolist() == picks.tolist()


def test_retrieval_baseline_averages_r_over_spaces():
    rng = np.random.default_rng(16)
    u_z, u_c = rng.normal(size=50), rng.normal(size=70)
    # space z alone prefers item 0, space c item 1; the mean r (0.5, 0.575, 0.6) item 2
    train_z = np.stack([correlated(u_z, r, rng) for r in (0.9, 0.2, 0.6)])
    train_c = np.stack([correlated(u_c, r, rng) for r in (0.1, 0.95, 0.6)])
    assert v.nearest_training(u_z[None], train_z, 100)[0].tolist() == [0]
    assert v.nearest_training(u_c[None], train_c, 100)[0].tolist() == [1]
    assert v.retrieval_baseline([u_z[None], u_c[None]], [train_z, train_c], 100).tolist() == [2]


def test_a_retrieving_decoder_scores_at_the_retrieval_baseline():
    """Test images that are near-duplicates of training images, and a decoder that returns the training
    neighbour: it wins N-way among test images outright, as pure retrieval does, and it is the truth's
    training twin, not the truth, that wins C+1-way identification."""
    rng = np.random.default_rng(17)
    train = rng.normal(size=(200, 80))
    twins = rng.choice(200, 20, replace=False)
    truth = train[twins] + 0.3 * rng.normal(size=(20, 80))
    decoded = train[twins] + 1e-4 * rng.normal(size=(20, 80))
    retrieved = train[v.retrieval_baseline([decoded], [train], 100)]
    assert np.array_equal(retrieved, train[twins])
    for features in (decoded, retrieved):
        s = pearson(features, truth)
        assert v.n_way_identification(s, 2, 1, 0).tolist() == [1.0] * 20
        assert v.n_way_identification(s, 10, 50, 0).tolist() == [1.0] * 20
        rank, accuracy = v.novel_identification(features, truth, train, 100)
        assert rank.tolist() == [2] * 20 and np.allclose(accuracy, 199 / 200)


# --- errors -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("call, named", [
    (lambda: v.nearest_training(np.ones((3, 4)), np.ones((5, 6)), 10), "'test' and 'train'"),
    (lambda: v.nearest_training(np.ones(4), np.ones((5, 4)), 10), "'test'"),
    (lambda: v.nearest_training(np.ones((3, 4)), np.ones((5, 4)), 0), "'memory_mb'"),
    (lambda: v.novel_identification(np.ones((3, 4)), np.ones((2, 4)), np.ones((5, 4)), 10), "'decoded' and 'truth'"),
    (lambda: v.retrieval_baseline([np.ones((3, 4))], [np.ones((5, 4)), np.ones((5, 2))], 10), "'decoded_spaces'"),
    (lambda: v.retrieval_baseline([np.ones((3, 4)), np.ones((2, 2))], [np.ones((5, 4)), np.ones((5, 2))], 10),
     "space 1"),
    (lambda: v.n_way_identification(np.eye(5), 6, 10, 0), "'n'"),
    (lambda: v.n_way_identification(np.eye(5), 1, 10, 0), "'n'"),
    (lambda: v.n_way_identification(np.ones((5, 4)), 2, 10, 0), "'similarity'"),
    (lambda: v.candidate_pools(5, 3, 0, 0), "'n_pools'"),
    (lambda: v.retrieval_ranks(np.full((3, 3), np.nan)), "'similarity'"),
    (lambda: v.bootstrap_ci(np.ones((2, 3, 4)), 10, 0), "'values'"),
    (lambda: v.paired_permutation(np.ones(5), np.ones(6), 10, 0), "'a' and 'b'"),
    (lambda: v.training_components(np.ones((5, 4)), 6, 0), "'k'"),
    (lambda: v.variance_in_span(np.ones((3, 4)), np.eye(4)[:2], np.zeros(3)), "'mean'"),
    (lambda: v.novelty_tertiles(np.ones((2, 2))), "'novelty'"),
])
def test_errors_name_the_argument(call, named):
    with pytest.raises(InputError, match=named):
        call()


# --- one tie rule and one averaging rule for every identification ----------------------------------

def test_a_candidate_within_tie_of_the_truth_fails_every_identification():
    """Two-way, N-way, retrieval rank and C+1-way alike: a candidate 5e-7 below the truth's r ties with it and the
    tie counts against the truth; 5e-6 below, the truth wins."""
    rng = np.random.default_rng(9)
    for margin, wins in ((5e-7, False), (5e-6, True)):
        s = np.full((3, 3), 0.1)
        np.fill_diagonal(s, 0.8)
        s[0, 1] = 0.8 - margin  # item 0's one close distractor
        assert (v.n_way_identification(s, 2, 10, 0)[0] == 1.0) == wins
        assert (v.n_way_identification(s, 3, 10, 0)[0] == 1.0) == wins
        assert (v.retrieval_ranks(s)[0] == 1) == wins
        truth = rng.normal(size=(1, 4000))
        decoded = correlated(truth[0], 0.8, rng)[None]
        train = np.stack([correlated(decoded[0], 0.8 - margin, rng), rng.normal(size=4000)])
        own = pearson(decoded, truth)[0, 0]
        train[0] = correlated(decoded[0], own - margin, rng)  # exactly margin below the truth's r (to ~1e-12)
        rank, accuracy = v.novel_identification(decoded, truth, train, memory_mb=100)
        assert (rank[0] == 1) == wins and accuracy[0] == (1.0 if wins else 0.5)


def test_c_plus_1_averages_r_over_samples_as_two_way_does():
    """A reconstruction with two samples: one loud (100 times the scale) and nearer a training image, one quiet and
    near the truth. r averaged over the samples (both metrics' rule) ranks the truth first; the mean of the raw
    samples (the loud one) would rank the training image first."""
    from sdbrain.evaluation import validity_tables as vt
    rng = np.random.default_rng(10)
    truth, train = rng.normal(size=(3, 2000)), rng.normal(size=(5, 2000))
    loud, quiet = np.empty((3, 2000)), np.empty((3, 2000))
    for i in range(3):
        loud[i] = 100 * (0.3 * unit(truth[i]) + 0.6 * unit(train[0]) + 0.2 * unit(rng.normal(size=2000)))
        quiet[i] = 0.9 * unit(truth[i]) + 0.1 * unit(rng.normal(size=2000))
    features = np.stack([loud, quiet], axis=1)  # (test, samples, d)
    mean_r = np.mean([pearson(features[:, k], np.vstack([truth, train])) for k in range(2)], axis=0)
    assert (mean_r[np.arange(3), np.arange(3)] > mean_r[:, 3]).all()  # the truth beats train[0] on mean r
    raw = pearson(features.mean(1), np.vstack([truth, train]))
    assert (raw[np.arange(3), np.arange(3)] < raw[:, 3]).all()  # ... but not on the raw mean
    settings = vt.Settings(seed=0, memory_mb=1, pools=5, n_way=(2,), top=(1,), bootstrap=10, permutations=10)
    scores = vt.identification_scores(features, truth, train, settings)
    assert scores["cplus1_top1"].tolist() == [1.0, 1.0, 1.0] and scores["twoway"].tolist() == [1.0, 1.0, 1.0]


def unit(x: np.ndarray) -> np.ndarray:
    x = x - x.mean()
    return x / np.linalg.norm(x)
