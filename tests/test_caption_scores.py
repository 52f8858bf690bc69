"""Caption scores (sdbrain.text.scores): pycocoevalcap's BLEU-4, ROUGE-L and CIDEr-D, CLIP similarity, and the
ceiling and chance rows."""
import numpy as np
import pytest
from pycocoevalcap.bleu.bleu import Bleu
from pycocoevalcap.cider.cider import Cider

from sdbrain.errors import ArgumentError
from sdbrain.text import scores

REFERENCES = [["A red circle on a blue background.", "a red disc, blue behind it"],
              ["a small green star on a white background", "a green star"],
              ["a large yellow square on a red background", "yellow square, red backdrop"]]


def test_tokenize_lowers_and_drops_punctuation():
    assert scores.tokenize("A red   circle, on a BLUE background.") == "a red circle on a blue background"


def test_language_scores_are_pycocoevalcaps_on_tokenized_captions():
    candidates = ["a red circle on a blue background", "a green star", "dogs chew bones"]
    each, overall = scores.language(candidates, REFERENCES)
    gts = {k: [scores.tokenize(r) for r in refs] for k, refs in enumerate(REFERENCES)}
    res = {k: [c] for k, c in enumerate(candidates)}
    bleu, bleu_each = Bleu(4).compute_score(gts, res, verbose=0)
    cider, cider_each = Cider().compute_score(gts, res)
    assert overall["bleu4"] == pytest.approx(bleu[3]) and np.allclose(each["bleu4"], bleu_each[3])
    assert overall["cider"] == pytest.approx(cider) and np.allclose(each["cider"], cider_each)
    # a caption equal to a reference scores ROUGE-L 1; one sharing no word scores 0 on all three
    assert each.loc[0, "rouge_l"] == pytest.approx(1.0) and each.loc[0, "bleu4"] > 0.9
    assert each.loc[2, ["rouge_l", "cider"]].tolist() == [0, 0] and each.loc[2, "bleu4"] < 1e-6
    with pytest.raises(ArgumentError, match="every candidate needs at least one reference"):
        scores.language(["a"], [[]])


def test_chance_pairs_every_caption_with_another_images_references():
    order = scores.derangement(7, seed=3)
    assert sorted(order) == list(range(7)) and not np.any(order == np.arange(7))
    assert np.array_equal(order, scores.derangement(7, seed=3))
    pairs = scores.sources(["d0", "d1", "d2"], ["c0", "c1", "c2"], seed=0)
    assert pairs["decoded"] == (["d0", "d1", "d2"], pytest.approx(np.arange(3)))
    texts, against = pairs["chance"]
    assert texts == ["d0", "d1", "d2"] and not np.any(against == np.arange(3))
    with pytest.raises(ArgumentError, match="chance needs at least 2 test images"):
        scores.derangement(1, seed=0)


def test_clip_similarity_is_the_mean_cosine_of_pooled_text_embeddings(pipe):
    candidates, references = ["a red circle", "a blue star"], [["a red circle", "a blue circle"], ["a red star"]]
    similarity = scores.clip_similarity(pipe, candidates, references, batch_size=2)
    pooled = scores._pooled(pipe, ["a red circle", "a blue star", "a red circle", "a blue circle", "a red star"])
    unit = pooled / np.linalg.norm(pooled, axis=1, keepdims=True)
    assert similarity[0] == pytest.approx((1 + unit[0] @ unit[3]) / 2, abs=1e-6)
    assert similarity[1] == pytest.approx(unit[1] @ unit[4], abs=1e-6)


def test_score_gives_per_image_rows_and_a_row_per_source(pipe):
    decoded = ["a red circle on a blue background", "a green star", "a yellow square"]
    ceiling = ["a red circle on a blue background", "a small green star on a white background",
               "a large yellow square on a red background"]
    each, summary = scores.score(pipe, decoded, ceiling, REFERENCES, seed=0)
    assert list(summary["source"]) == ["decoded", "ceiling", "chance"]
    assert len(each) == 9 and set(each.columns) >= {"source", "image", "scored_against", "bleu4", "rouge_l", "cider",
                                                    "clip"}
    ranked = summary.set_index("source")
    assert ranked.loc["ceiling", "cider"] > ranked.loc["decoded", "cider"] > ranked.loc["chance", "cider"]
