"""Two-way identification and the evaluation networks."""
import numpy as np
import pytest
from PIL import Image

from sdbrain.errors import InputError
from sdbrain.evaluation import evaluate
from sdbrain.linear import stats


def loop_paper(original, recon):
    """The plain definition: a double loop of np.corrcoef."""
    n, s = recon.shape[:2]
    r = np.array([[np.mean([np.corrcoef(original[i], recon[j, k])[0, 1] for k in range(s)]) for j in range(n)]
                  for i in range(n)])
    return np.array([np.mean([r[i, i] > r[i, j] for j in range(n) if j != i]) for i in range(n)])


def loop_community(original, recon):
    n, s = recon.shape[:2]
    out = np.zeros(n)
    for k in range(s):
        for j in range(n):
            own = np.corrcoef(original[j], recon[j, k])[0, 1]
            out[j] += np.mean([own > np.corrcoef(original[i], recon[j, k])[0, 1] for i in range(n) if i != j]) / s
    return out


def test_vectorised_equals_double_loop():
    rng = np.random.default_rng(0)
    original = rng.normal(size=(12, 30))
    recon = original[:, None] * 0.3 + rng.normal(size=(12, 3, 30))
    assert np.allclose(evaluate.paper_identification(original, recon), loop_paper(original, recon))
    assert np.allclose(evaluate.community_identification(original, recon), loop_community(original, recon))


def test_perfect_reconstructions_are_always_identified():
    original = np.random.default_rng(1).normal(size=(20, 50))
    recon = np.repeat(original[:, None], 5, axis=1)
    assert (evaluate.paper_identification(original, recon) == 1).all()
    assert (evaluate.community_identification(original, recon) == 1).all()


def test_independent_noise_is_at_chance():
    rng = np.random.default_rng(2)
    original, recon = rng.normal(size=(300, 40)), rng.normal(size=(300, 5, 40))
    assert evaluate.paper_identification(original, recon).mean() == pytest.approx(0.5, abs=0.02)
    assert evaluate.community_identification(original, recon).mean() == pytest.approx(0.5, abs=0.02)


def test_hand_made_four_images():
    """Features built so that r(original i, reconstruction j) = R[i, j] exactly."""
    R = np.array([[0.9, 0.1, 0.2, 0.3],
                  [0.5, 0.4, 0.6, 0.0],
                  [0.0, 0.1, 0.7, 0.25],
                  [0.3, 0.8, 0.1, 0.2]]) / 2
    # orthonormal, zero-mean vectors: 4 originals and 4 residual directions
    basis, _ = np.linalg.qr(np.random.default_rng(0).normal(size=(12, 8)))
    basis -= basis.mean(0)
    basis, _ = np.linalg.qr(basis)
    basis = basis.T
    original, residual = basis[:4], basis[4:]
    recon = np.stack([R[:, j] @ original + np.sqrt(1 - (R[:, j] ** 2).sum()) * residual[j] for j in range(4)])
    assert np.allclose(stats.correlation_matrix(original, recon), R, atol=1e-6)
    # per original (rows): 0 beats .1 .2 .3; 1 beats only .0; 2 beats all; 3 beats only .1
    assert np.allclose(evaluate.paper_identification(original, recon[:, None]), [1, 1 / 3, 1, 1 / 3])
    # per reconstruction (columns): 0 beats all; 1 beats .1 .1 not .8; 2 beats all; 3 beats only .0
    assert np.allclose(evaluate.community_identification(original, recon[:, None]), [1, 2 / 3, 1, 1 / 3])


def test_paired_correlation():
    rng = np.random.default_rng(3)
    x = rng.normal(size=(4, 10))
    assert np.allclose(evaluate.paired_correlation(x, np.repeat(x[:, None], 2, 1)), 1, atol=1e-5)


def test_ties_count_as_failures():
    """Takagi's ``r_true > r_fake`` and MindEye's ``r < congruents``: a tie is never a success."""
    rng = np.random.default_rng(4)
    original = rng.normal(size=(5, 20))
    same_recon = np.repeat(rng.normal(size=(1, 1, 20)), 5, axis=0)  # every image's reconstruction is the same
    assert (evaluate.paper_identification(original, same_recon) == 0).all()
    same_original = np.repeat(original[:1], 5, axis=0)  # every original is the same
    assert (evaluate.community_identification(same_original, rng.normal(size=(5, 3, 20))) == 0).all()


def _write(folder, ids, samples, size=(32, 32), odd=None):
    rows = []
    for i in ids:
        for s in range(samples):
            path = folder / f"{i}_{s}.png"
            shape = odd if (odd and (i, s) == (ids[-1], samples - 1)) else size
            Image.fromarray(np.zeros(shape + (3,), np.uint8)).save(path)
            rows.append(f"{i}\t{s}\t{path}")
    manifest = folder / "manifest.tsv"
    manifest.write_text("nsd_id\tsample\tpath\n" + "\n".join(rows) + "\n")
    return manifest


def test_reconstructions_are_read_in_test_order(tmp_path):
    manifest = _write(tmp_path, [3, 1, 2], 2)
    assert evaluate.read_reconstructions(str(manifest), [1, 2, 3]).shape == (3, 2, 32, 32, 3)


def test_missing_samples_and_mixed_sizes_are_refused(tmp_path):
    manifest = _write(tmp_path, [1, 2, 3], 2)
    lines = manifest.read_text().splitlines()
    manifest.write_text("\n".join(lines[:-1]) + "\n")  # drop image 3's second sample
    with pytest.raises(InputError, match=r"manifest.tsv: 1 image\(s\) have fewer than 2 samples, e.g. 73k ids \[3\]"):
        evaluate.read_reconstructions(str(manifest), [1, 2, 3])
    with pytest.raises(InputError, match=r"no reconstruction of 1 test image\(s\), e.g. 73k ids \[4\]"):
        evaluate.read_reconstructions(str(_write(tmp_path, [1, 2, 3], 2)), [1, 2, 3, 4])
    mixed = _write(tmp_path, [1, 2], 2, odd=(40, 40))
    with pytest.raises(InputError, match=r"2_1.png: image of size \(40, 40\) among reconstructions of size \(32, 32\)"):
        evaluate.read_reconstructions(str(mixed), [1, 2])
