"""The subjective evaluation: identification accuracy of human (or simulated) raters.

Per subject, method and rater: accuracy with an exact (Clopper-Pearson) 95 % interval and an exact
one-sided binomial test against chance (0.5). Per subject and method over raters: the mean of the
raters' accuracies, and the interval and test of all their answers pooled. Agreement: for every
pair of raters, the fraction of the trials both answered on which they chose the same side, and
Cohen's kappa of that pair; the table gives the mean over pairs.
"""
from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from sdbrain.errors import InputError

ANSWER_COLUMNS = ["rater", "source", "trial", "subject", "method", "nsd_id", "sample", "foil_nsd_id", "foil_sample",
                  "target", "choice", "correct"]
# what an answer says of its trial: all of it must be what the trials file says
TRIAL_KEYS = ["subject", "method", "nsd_id", "sample", "foil_nsd_id", "foil_sample", "target"]
MEAN = "mean over raters"


def read_answers(path: str | Path) -> pd.DataFrame:
    """Read the exported answers (sdbrain-rate export) and check them."""
    path = Path(path)
    if not path.is_file():
        raise InputError(f"{path}: answers file not found (config key rate.answers; write it with sdbrain-rate export)")
    try:
        table = pd.read_csv(path, sep="\t", dtype={"rater": str, "subject": str, "method": str})
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError) as err:
        raise InputError(f"{path}: not an answers table ({err})") from None
    missing = [c for c in ANSWER_COLUMNS if c not in table.columns]
    if missing:
        raise InputError(f"{path}: expected the columns of sdbrain-rate export {ANSWER_COLUMNS}; missing {missing}")
    if table.empty:
        raise InputError(f"{path}: holds no answers")
    if not table["choice"].isin(["left", "right"]).all() or not table["correct"].isin([0, 1]).all():
        raise InputError(f"{path}: expected choice left/right and correct 0/1 in every row")
    if table.duplicated(["rater", "trial"]).any():
        raise InputError(f"{path}: a rater answers a trial twice")
    # correct is what choice and target say; a table where it says otherwise was edited
    contradicted = table[table["correct"] != (table["choice"] == table["target"]).astype(int)]
    if len(contradicted):
        raise InputError(f"{path}: {len(contradicted)} answers have a 'correct' that contradicts their choice and "
                         f"target (first: trial {contradicted['trial'].iloc[0]})")
    return table


def check_trials(answers: pd.DataFrame, trials: pd.DataFrame, path: str | Path) -> None:
    """Check that the answers belong to this trial set: every trial exists with the same images and target.

    Compared per trial: subject, method, the original's and the foil's 73k ids and samples, and the target side.
    """
    mine = answers[["trial", *TRIAL_KEYS]].astype({"subject": str, "method": str})
    theirs = trials[["trial", *TRIAL_KEYS]].astype({"subject": str, "method": str})
    merged = mine.merge(theirs, how="left", on="trial", suffixes=("", "_set"), indicator=True)
    differs = (merged[TRIAL_KEYS].astype(str).to_numpy() != merged[[f"{k}_set" for k in TRIAL_KEYS]].astype(str).to_numpy())
    bad = merged[differs.any(axis=1) | (merged["_merge"] != "both")]
    if len(bad):
        first = bad.iloc[0]
        which = [k for k in TRIAL_KEYS if str(first[k]) != str(first[f"{k}_set"])]
        raise InputError(f"{path}: {len(bad)} answers do not match the trials file (first: trial {first['trial']}, "
                         f"{', '.join(which)}); were they exported from another trial set?")


def interval(k: int, n: int) -> tuple[float, float, float]:
    """Return the Clopper-Pearson 95 % interval of k successes in n, and the one-sided binomial p.

    Returns (low, high, p): the interval and the p of k or more under chance 0.5.
    """
    # the interval is two-sided (a one-sided test's proportion_ci would be one-sided too)
    ci = stats.binomtest(int(k), int(n), 0.5).proportion_ci(0.95, method="exact")
    return ci.low, ci.high, stats.binomtest(int(k), int(n), 0.5, alternative="greater").pvalue


def accuracy(answers: pd.DataFrame) -> pd.DataFrame:
    """One row per subject, method and rater, then one 'mean over raters' row per subject and method."""
    rows = []
    for (subject, method), part in answers.groupby(["subject", "method"], sort=True):
        per_rater = []
        for rater, mine in part.groupby("rater", sort=True):
            k, n = int(mine["correct"].sum()), len(mine)
            low, high, p = interval(k, n)
            per_rater.append({"subject": subject, "method": method, "rater": rater, "source": mine["source"].iloc[0],
                              "n_raters": 1, "n": n, "correct": k, "accuracy": k / n, "ci_low": low, "ci_high": high,
                              "p_chance": p})
        k, n = int(part["correct"].sum()), len(part)
        low, high, p = interval(k, n)
        rows += per_rater + [{"subject": subject, "method": method, "rater": MEAN,
                              "source": ",".join(sorted(part["source"].unique())), "n_raters": len(per_rater),
                              "n": n, "correct": k, "accuracy": float(np.mean([r["accuracy"] for r in per_rater])),
                              "ci_low": low, "ci_high": high, "p_chance": p}]
    return pd.DataFrame(rows)


def kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Compute Cohen's kappa of two raters' choices (left/right) on the same trials.

    NaN where chance agreement is 1 (both always chose one side).
    """
    observed = np.mean(a == b)
    expected = sum(np.mean(a == side) * np.mean(b == side) for side in ("left", "right"))
    return float((observed - expected) / (1 - expected)) if expected < 1 else float("nan")


def agreement(answers: pd.DataFrame) -> pd.DataFrame:
    """Measure the raters' agreement per subject and method.

    Per subject and method: the number of rater pairs with shared trials, the mean number of
    shared trials, the mean pairwise agreement and the mean pairwise Cohen's kappa.
    """
    rows = []
    for (subject, method), part in answers.groupby(["subject", "method"], sort=True):
        choices = part.pivot(index="trial", columns="rater", values="choice")
        pairs = []
        for r1, r2 in combinations(choices.columns, 2):
            both = choices[[r1, r2]].dropna()
            if len(both):
                a, b = both[r1].to_numpy(), both[r2].to_numpy()
                pairs.append((len(both), float(np.mean(a == b)), kappa(a, b)))
        shared, agree, kap = (np.array(x, dtype=float) for x in zip(*pairs)) if pairs else ([], [], [])
        rows.append({"subject": subject, "method": method, "n_pairs": len(pairs),
                     "mean_shared_trials": float(np.mean(shared)) if pairs else 0.0,
                     "pairwise_agreement": float(np.mean(agree)) if pairs else float("nan"),
                     "cohen_kappa": float(np.nanmean(kap)) if pairs and not np.isnan(kap).all() else float("nan")})
    return pd.DataFrame(rows)


def simulated_note(answers: pd.DataFrame) -> str:
    """Return the sentence every output made from simulated answers carries ('' for human answers)."""
    rules = sorted({s.removeprefix("simulated: ") for s in answers["source"].unique() if s != "human"})
    return f"SIMULATED raters ({'; '.join(rules)}), not human judgements" if rules else ""


def markdown(table: pd.DataFrame, agree: pd.DataFrame, note: str) -> str:
    """Write the report's table in Markdown: mean over raters per subject and method, with agreement."""
    mean = table[table["rater"] == MEAN].merge(agree, on=["subject", "method"])
    lines = ["| subject | method | raters | answers | accuracy (%) | 95 % CI (Clopper-Pearson) | p vs chance | "
             "pairwise agreement | Cohen's kappa |", "|---|---|---|---|---|---|---|---|---|"]
    for r in mean.itertuples():
        lines.append(f"| {r.subject} | {r.method} | {r.n_raters} | {r.n} | {100 * r.accuracy:.1f} | "
                     f"{100 * r.ci_low:.1f}-{100 * r.ci_high:.1f} | {r.p_chance:.2g} | {r.pairwise_agreement:.2f} | "
                     f"{r.cohen_kappa:.2f} |")
    return "\n".join(lines + ([f"\n**{note}**"] if note else [])) + "\n"
