"""Paper figures as PNG (and PDF): grids of originals and reconstructions."""
from __future__ import annotations

import textwrap
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from PIL import Image  # noqa: E402


def first_samples(manifest: str | Path, ids) -> list[np.ndarray]:
    """Sample 0 of each requested image from a reconstruction manifest."""
    table = pd.read_csv(manifest, sep="\t")
    table = table[table["sample"] == 0].set_index("nsd_id")
    return [np.asarray(Image.open(table.loc[int(i), "path"]).convert("RGB")) for i in ids]


def image_grid(rows: dict[str, list[np.ndarray]], column_titles: list[str], path: str | Path, title: str,
               note: str = "") -> None:
    """One row per label, one column per image; saved as ``path`` (PNG) and the same name as PDF."""
    labels = list(rows)
    n_cols = len(column_titles)
    fig, axes = plt.subplots(len(labels), n_cols, figsize=(1.6 * n_cols + 0.8, 1.6 * len(labels) + 0.6), squeeze=False)
    for r, label in enumerate(labels):
        for col in range(n_cols):
            ax = axes[r, col]
            ax.imshow(rows[label][col])
            ax.set_xticks([])
            ax.set_yticks([])
            if r == 0:
                ax.set_title(column_titles[col], fontsize=8)
            if col == 0:
                ax.set_ylabel(label, fontsize=9)
    fig.suptitle(title, fontsize=10)
    save(fig, path, note, top=0.97)


def save(fig, path: str | Path, note: str, top: float) -> None:
    """Add the note (e.g. random weights) under the figure, save it as PNG and PDF, close it."""
    lines = textwrap.wrap(note, 140)
    if lines:
        fig.text(0.5, 0.005, "\n".join(lines), ha="center", va="bottom", fontsize=7, color="firebrick")
    fig.tight_layout(rect=(0, 0.03 * len(lines), 1, top))
    fig.savefig(path, dpi=120)
    fig.savefig(Path(path).with_suffix(".pdf"))
    plt.close(fig)


def identification_bars(summary: pd.DataFrame, path: str | Path, note: str = "",
                        subjective: pd.DataFrame | None = None) -> None:
    """Draw Fig. 5: identification accuracy in the paper's protocol (recipe takagi) per method and layer.

    Per subject and averaged; with ``subjective`` (sdbrain.rate.analysis.accuracy), a last panel of
    the raters' accuracy per subject and method.
    """
    data = summary[summary["protocol"] == "takagi"]
    metrics = list(dict.fromkeys(data["metric"]))
    methods = list(dict.fromkeys(data["method"]))
    subjects = sorted(data["subject"].unique()) + ["mean"]
    n_panels = len(subjects) + (subjective is not None)
    fig, axes = plt.subplots(1, n_panels, figsize=(3.2 * n_panels + 1, 4.2), sharey=True, squeeze=False)
    width = 0.8 / len(methods)
    if subjective is not None:
        subjective_bars(axes[0, -1], subjective, methods)
        note = "; ".join(filter(None, [subjective_note(subjective), note]))
    for ax, subject in zip(axes[0], subjects):
        part = data if subject == "mean" else data[data["subject"] == subject]
        for k, method in enumerate(methods):
            sub = part[part["method"] == method].groupby("metric")
            means = sub["mean"].mean().reindex(metrics)
            spread = sub["sd"].mean().reindex(metrics)
            ax.bar(np.arange(len(metrics)) + k * width, 100 * means, width, yerr=100 * spread, capsize=2, label=method)
        ax.axhline(50, color="grey", lw=0.8, ls="--")
        ax.set_xticks(np.arange(len(metrics)) + width * (len(methods) - 1) / 2)
        ax.set_xticklabels(metrics, rotation=60, ha="right", fontsize=7)
        ax.set_title(subject, fontsize=9)
    axes[0, 0].set_ylabel("identification accuracy (%)")
    axes[0, 0].set_ylim(0, 100)
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper right", ncol=len(methods), fontsize=7, title="method", title_fontsize=7)
    fig.suptitle("Fig. 5: two-way identification (paper protocol, recipe takagi; bars: mean, whiskers: sd over images; chance 50%)",
                 fontsize=9)
    save(fig, path, note, top=0.86)


def subjective_note(subjective: pd.DataFrame) -> str:
    """Return the first non-empty ``note`` of the raters' accuracy table, or '' (the note goes under Fig. 5)."""
    notes = subjective["note"].dropna() if "note" in subjective else []
    return next((str(n) for n in notes if str(n)), "")


def subjective_bars(ax, subjective: pd.DataFrame, methods: list[str]) -> None:
    """Draw Fig. 5's subjective panel on ``ax``: per subject, the raters' accuracy per method.

    Bars are the mean over raters per method, whiskers the Clopper-Pearson 95 % interval of the pooled
    answers, dots the single raters.
    """
    mean = subjective[subjective["rater"] == "mean over raters"]
    raters = subjective[subjective["rater"] != "mean over raters"]
    subjects = sorted(mean["subject"].unique())
    methods = [m for m in methods if m in set(mean["method"])] + sorted(set(mean["method"]) - set(methods))
    width = 0.8 / len(methods)
    for k, method in enumerate(methods):
        part = mean[mean["method"] == method].set_index("subject").reindex(subjects)
        x = np.arange(len(subjects)) + k * width
        errors = 100 * np.abs(np.vstack([part["accuracy"] - part["ci_low"], part["ci_high"] - part["accuracy"]]))
        ax.bar(x, 100 * part["accuracy"], width, yerr=errors, capsize=2, color=f"C{k}", alpha=0.8)
        for j, subject in enumerate(subjects):
            dots = raters[(raters["method"] == method) & (raters["subject"] == subject)]["accuracy"]
            ax.plot(np.full(len(dots), x[j]), 100 * dots, "k.", ms=3)
    ax.axhline(50, color="grey", lw=0.8, ls="--")
    ax.set_xticks(np.arange(len(subjects)) + width * (len(methods) - 1) / 2)
    ax.set_xticklabels(subjects, fontsize=7)
    n_raters = raters["rater"].nunique()
    simulated = "SIMULATED " if subjective_note(subjective) else ""
    ax.set_title(f"subjective: {n_raters} {simulated}raters", fontsize=9, color="firebrick" if simulated else "black")


def flatmap_grid(panels: list[list[dict]], row_labels: list[str], column_labels: list[str], path: str | Path,
                 title: str, note: str = "", colorbar: str = "", legend: dict | None = None) -> None:
    """Flatmaps in rows (e.g. noise levels, steps) and columns (e.g. subjects); one shared colorbar or legend.

    Each panel is a dict of ``Flatmapper.draw`` arguments plus ``mapper``.
    """
    n_rows, n_cols = len(panels), max(len(row) for row in panels)
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(3.6 * n_cols + 1.2, 2.1 * n_rows + 1.0), squeeze=False,
                             facecolor="white")
    artist = None
    for r, row in enumerate(panels):
        for c, panel in enumerate(row):
            panel = dict(panel)
            mapper = panel.pop("mapper")
            artist = mapper.draw(axes[r, c], **panel)
            if r == 0:
                axes[r, c].set_title(column_labels[c], fontsize=8)
        axes[r, 0].text(-0.04, 0.5, row_labels[r], transform=axes[r, 0].transAxes, rotation=90, ha="right",
                        va="center", fontsize=9)
        for c in range(len(row), n_cols):
            axes[r, c].axis("off")
    if legend:
        from matplotlib.patches import Patch
        handles = [Patch(color=colour, label=name) for name, colour in legend.items()]
        fig.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=8, frameon=False,
                   bbox_to_anchor=(0.5, 0.03 + 0.012 * bool(note)))
    elif artist is not None:
        fig.colorbar(artist, ax=axes.ravel().tolist(), shrink=0.5, label=colorbar, pad=0.02)
    fig.suptitle(title, fontsize=10)
    lines = textwrap.wrap(note, 160)
    if lines:
        fig.text(0.5, 0.005, "\n".join(lines), ha="center", va="bottom", fontsize=7, color="firebrick")
    fig.savefig(path, dpi=110)
    fig.savefig(Path(path).with_suffix(".pdf"))
    plt.close(fig)


VALIDITY_GROUPS = ["tertile:familiar", "tertile:middle", "tertile:novel", "toy:familiar", "toy:novel"]


def validity_panels(summary: pd.DataFrame, collapse: pd.DataFrame, path: str | Path, controls=(),
                    note: str = "") -> None:
    """Draw the validity figure.

    Per subject (rows): two-way and novel (C+1-way) identification on the late feature by novelty group for every
    method and control (mean and bootstrap 95 % interval; the ``controls`` dashed), and the collapse of the decoded
    z and c (share of variance in the training targets' top-k components, participation ratio printed above each
    bar).
    """
    subjects = list(dict.fromkeys(summary["subject"]))
    late = summary[summary["space"] == "late"]
    groups = [g for g in VALIDITY_GROUPS if g in set(late["group"])]
    methods = list(dict.fromkeys(late["method"]))
    fig, axes = plt.subplots(len(subjects), 3, figsize=(14, 3.6 * len(subjects)), squeeze=False)
    x = np.arange(len(groups))
    for row, subject in zip(axes, subjects):
        for ax, metric, chance in ((row[0], "twoway", 0.5), (row[1], "cplus1", 0.5)):
            part = late[(late["subject"] == subject) & (late["metric"] == metric)].set_index(["method", "group"])
            for k, method in enumerate(methods):
                cell = part.loc[method].reindex(groups)
                style = dict(capsize=2, marker="o", ms=3, color=f"C{k}",
                             ls="--" if method in controls else "-")
                # the tertiles and the toy world's familiar/novel split are separate lines: different groupings
                for j, family in enumerate(("tertile", "toy")):
                    at = np.array([g.startswith(family) for g in groups])
                    if at.any():
                        c = cell[at]
                        ax.errorbar(x[at] + 0.06 * (k - len(methods) / 2), c["mean"], label=None if j else method,
                                    yerr=[c["mean"] - c["ci_low"], c["ci_high"] - c["mean"]], **style)
            ax.axhline(chance, color="grey", lw=0.8, ls=":")
            ax.set_xticks(x)
            ax.set_xticklabels([g.replace(":", "\n") for g in groups], fontsize=7)
            ax.set_ylim(0, 1.02)
            ax.set_title(f"{subject}: {'two-way' if metric == 'twoway' else 'novel (C+1-way)'} identification", fontsize=9)
        ax = row[2]
        part = collapse[collapse["subject"] == subject]
        for k, what in enumerate(("decoded", "true")):
            cells = part[part["features"] == what].set_index("target").reindex(["z", "c"])
            bars = ax.bar(np.arange(2) + 0.38 * k, cells["share_in_top_k"], 0.38, color=("0.35", "0.75")[k],
                          label=f"{what} test features")
            for bar, ratio in zip(bars, cells["participation_ratio"]):
                ax.text(bar.get_x() + bar.get_width() / 2, bar.get_height() + 0.02, f"PR {ratio:.1f}", ha="center",
                        fontsize=7)
        ax.set_xticks(np.arange(2) + 0.19)
        ax.set_xticklabels([f"{t} (k = {int(part['k'].iloc[0])})" for t in ("z", "c")] if len(part) else ["z", "c"])
        ax.set_ylim(0, 1.15)
        ax.set_title(f"{subject}: collapse: variance share in training top-k PCs", fontsize=9)
        ax.legend(fontsize=7, loc="lower right")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.suptitle("Reconstruction or retrieval: identification by novelty of the test image, and collapse", fontsize=10,
                 y=0.995)
    top = 1 - 0.1 / len(subjects)
    fig.legend(handles, labels, loc="upper center", bbox_to_anchor=(0.5, top + 0.06 / len(subjects)), ncol=len(methods),
               fontsize=7, title="method (dashed: controls)", title_fontsize=7)
    save(fig, path, note, top=top - 0.02)
