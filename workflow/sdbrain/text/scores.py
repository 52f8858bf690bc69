"""Scores of captions against an image's true captions: BLEU-4, ROUGE-L, CIDEr (pycocoevalcap) and CLIP similarity.

The language scores are COCO's caption evaluation (``pycocoevalcap``): BLEU-4 with the closest reference length,
ROUGE-L, and CIDEr-D, whose n-gram weights (document frequencies) come from the references of the images scored
together. COCO's tokenizer is Stanford's PTB tokenizer (Java); ``tokenize`` does what it does to captions
without it: lower case, punctuation removed, words split on white space.

The CLIP similarity is the cosine of the pooled CLIP text embeddings (the text encoder of the diffusion model,
which turns a caption into c) of a caption and of each true caption, averaged over the true captions.

Each score comes with two reference rows (``sources``): the ceiling (captions written from the images' true BLIP
tokens) and chance (each image's decoded caption scored against another test image's true captions).
"""
from __future__ import annotations

import re

import numpy as np
import pandas as pd

from sdbrain.errors import ArgumentError

LANGUAGE = ("bleu4", "rouge_l", "cider")
_PUNCTUATION = re.compile(r"[^\w\s]")


def tokenize(text: str) -> str:
    """Lower case, punctuation removed, single spaces: a caption as COCO's evaluation compares it."""
    return " ".join(_PUNCTUATION.sub(" ", text.lower()).split())


def derangement(n: int, seed: int) -> np.ndarray:
    """Return a seeded permutation of ``n`` (at least 2) positions that moves every one: chance's pairing."""
    if n < 2:
        raise ArgumentError("n", f"chance needs at least 2 test images, got {n}")
    rng = np.random.default_rng(seed)
    while True:
        order = rng.permutation(n)
        if not np.any(order == np.arange(n)):
            return order


def language(candidates: list[str], references: list[list[str]]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Per caption and for the set: BLEU-4, ROUGE-L and CIDEr-D of each candidate against its references.

    The set's scores are pycocoevalcap's: corpus BLEU-4, and the means of ROUGE-L and CIDEr-D.
    """
    from pycocoevalcap.bleu.bleu import Bleu
    from pycocoevalcap.cider.cider import Cider
    from pycocoevalcap.rouge.rouge import Rouge
    if len(candidates) != len(references) or any(not refs for refs in references):
        raise ArgumentError("references", "every candidate needs at least one reference caption")
    res = {k: [tokenize(c)] for k, c in enumerate(candidates)}
    gts = {k: [tokenize(r) for r in refs] for k, refs in enumerate(references)}
    bleu, bleu_each = Bleu(4).compute_score(gts, res, verbose=0)
    rouge, rouge_each = Rouge().compute_score(gts, res)
    cider, cider_each = Cider().compute_score(gts, res)
    each = pd.DataFrame({"bleu4": bleu_each[3], "rouge_l": rouge_each, "cider": cider_each})
    return each, {"bleu4": float(bleu[3]), "rouge_l": float(rouge), "cider": float(cider)}


def clip_similarity(pipe, candidates: list[str], references: list[list[str]], batch_size: int = 64) -> np.ndarray:
    """Per candidate, the mean cosine of its pooled CLIP text embedding with each of its references'."""
    every = list(candidates) + [r for refs in references for r in refs]
    embedded = np.concatenate([_pooled(pipe, every[k:k + batch_size]) for k in range(0, len(every), batch_size)])
    embedded /= np.linalg.norm(embedded, axis=1, keepdims=True)
    cand, refs = embedded[:len(candidates)], embedded[len(candidates):]
    out, start = np.zeros(len(candidates)), 0
    for k, texts in enumerate(references):
        out[k] = float((refs[start:start + len(texts)] @ cand[k]).mean())
        start += len(texts)
    return out


def _pooled(pipe, texts: list[str]) -> np.ndarray:
    from sdbrain.sd.features import encode_texts
    return encode_texts(pipe, texts).pooler_output.float().cpu().numpy().astype(np.float64)


def sources(decoded: list[str], ceiling: list[str], seed: int) -> dict[str, tuple[list[str], np.ndarray]]:
    """Return the captions scored and the test image whose true captions each is scored against.

    decoded and ceiling against their own image's; chance: the decoded captions against the true captions of the
    images of a seeded derangement (every caption against another image's).
    """
    own = np.arange(len(decoded))
    return {"decoded": (list(decoded), own), "ceiling": (list(ceiling), own),
            "chance": (list(decoded), derangement(len(decoded), seed))}


def score(pipe, decoded: list[str], ceiling: list[str], references: list[list[str]], seed: int):
    """Per image and source, and per source for the set: the language scores and the CLIP similarity."""
    rows, means = [], []
    for name, (texts, against) in sources(decoded, ceiling, seed).items():
        refs = [references[k] for k in against]
        each, overall = language(texts, refs)
        each["clip"] = clip_similarity(pipe, texts, refs)
        each.insert(0, "source", name)
        each.insert(1, "image", np.arange(len(texts)))
        each.insert(2, "scored_against", against)
        rows.append(each)
        means.append({"source": name, **overall, "clip": float(each["clip"].mean())})
    return pd.concat(rows, ignore_index=True), pd.DataFrame(means)
