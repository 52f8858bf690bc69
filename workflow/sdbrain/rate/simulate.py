"""Answers from a stated rule, so that the toy world exercises the analysis without humans.

A simulated rater picks the candidate whose pixels correlate more with the original (candidates
resized to the original's size, RGB, Pearson r), then flips that choice with a given error rate.
The accuracy this implies is ``p_rule (1 - e) + (1 - p_rule) e`` over the rater's trials.
"""
from __future__ import annotations

import numpy as np
from PIL import Image

from sdbrain.rate.trials import TrialSet


def pixel_choice(trials: TrialSet, trial: int) -> str:
    """Return the side whose candidate has the higher pixel correlation with the original ('left' on ties)."""
    original = Image.open(trials.image(trial, "original")).convert("RGB")
    flat = np.asarray(original, dtype=np.float64).ravel()
    r = {}
    for side in ("left", "right"):
        candidate = Image.open(trials.image(trial, side)).convert("RGB").resize(original.size, Image.BILINEAR)
        r[side] = np.corrcoef(flat, np.asarray(candidate, dtype=np.float64).ravel())[0, 1]
    return "right" if r["right"] > r["left"] else "left"


def answers(trials: TrialSet, trial_ids: list[int], error_rate: float, rng: np.random.Generator) -> list[str]:
    """Simulate a rater's choices for these trials: the rule's choice, flipped with probability ``error_rate``."""
    flip = rng.random(len(trial_ids)) < error_rate
    other = {"left": "right", "right": "left"}
    return [other[c] if f else c for c, f in zip((pixel_choice(trials, t) for t in trial_ids), flip)]


def expected_accuracy(trials: TrialSet, trial_ids: list[int], error_rate: float) -> float:
    """Return the accuracy the rule implies on these trials: p_rule (1 - e) + (1 - p_rule) e."""
    rule = np.mean([pixel_choice(trials, t) == trials.table.at[t, "target"] for t in trial_ids])
    return float(rule * (1 - error_rate) + (1 - rule) * error_rate)


def source(error_rate: float) -> str:
    """Return the source recorded for simulated raters: the rule and its error rate."""
    return f"simulated: higher pixel correlation, error rate {error_rate:g}"
