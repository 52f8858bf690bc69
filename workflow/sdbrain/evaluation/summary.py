"""The identification tables of a run: per-method means, the community table with its published rows, Markdown.

torch-free: rule eval_summary gathers the per-image scores (``evaluate``) without loading a network.
"""
from __future__ import annotations

import pandas as pd

from sdbrain.evaluation import recipes as rc

COMMUNITY_COLUMNS = ["PixCorr", "SSIM", "Alex2", "Alex5", "Incep", "CLIP", "Eff", "SwAV"]
# Published averages over subjects 1, 2, 5 and 7 (Alex2 ... CLIP in %), each beside the recipe that
# made it: MindEye2's Table 1 (Scotti et al. 2024), which recomputed the earlier methods with their
# public code on all 40 sessions and scored everything with MindEye's evaluation. No row made with
# Brain-Diffuser's own evaluation code is printed: none could be checked against its source.
PUBLISHED = {
    "mindeye": {
        "Takagi & Nishimoto 2023 (published: MindEye2 Table 1, 40 sessions)": [0.246, 0.410, 78.9, 85.6, 83.8, 82.1, 0.811, 0.504],
        "Ozcelik & VanRullen 2023 (published: MindEye2 Table 1, 40 sessions)": [0.273, 0.365, 94.4, 96.6, 91.3, 90.9, 0.728, 0.421],
        "MindEye2 (published: MindEye2 Table 1, 40 sessions)": [0.322, 0.431, 96.1, 98.6, 95.4, 93.0, 0.619, 0.344],
    },
}


def summarise(scores: pd.DataFrame) -> pd.DataFrame:
    """Mean and sd over images per subject, method, protocol and metric."""
    keys = ["subject", "method", "protocol", "metric"]
    out = scores.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    return out.rename(columns={"std": "sd", "count": "n_images"})


def community_table(summary: pd.DataFrame, methods: list[str]) -> pd.DataFrame:
    """Lay out ``summary`` as the published tables: one block per community recipe in it.

    Each block has, per method of ``methods`` (the main X_zc, and text where it runs), a row per subject and their
    mean, then the published rows that recipe made.
    """
    blocks = []
    for recipe in [r for r in summary["protocol"].unique() if r in PUBLISHED or rc.RECIPES[r].low_level]:
        published = pd.DataFrame(PUBLISHED.get(recipe, {}), index=COMMUNITY_COLUMNS).T
        block = pd.concat([*(_run_rows(summary, recipe, m) for m in methods), published]).rename_axis("row").reset_index()
        block.insert(0, "recipe", recipe)
        blocks.append(block)
    return pd.concat(blocks, ignore_index=True) if blocks else pd.DataFrame(columns=["recipe", "row", *COMMUNITY_COLUMNS])


def _run_rows(summary: pd.DataFrame, recipe: str, method: str) -> pd.DataFrame:
    """One method's rows of a community block: per subject and their mean, in the published units."""
    part = summary[(summary["protocol"] == recipe) & (summary["method"] == method)]
    wide = part.pivot(index="subject", columns="metric", values="mean").reindex(columns=COMMUNITY_COLUMNS)
    for col in ("Alex2", "Alex5", "Incep", "CLIP"):
        wide[col] *= 100
    wide.loc["mean"] = wide.mean()
    wide.index = [f"this run: {s} ({method})" for s in wide.index]
    return wide


def markdown(table: pd.DataFrame, note: str = "") -> str:
    """Write a table in Markdown (fractions to three decimals, percentages to one), with a note under it."""
    cols = list(table.columns)
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) and abs(v) < 1.5 else (f"{v:.1f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + ("\n\n" + note + "\n" if note else "\n")
