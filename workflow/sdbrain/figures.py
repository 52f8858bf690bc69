"""Paper figures as PNG (and PDF): grids of originals and reconstructions."""
from __future__ import annotations

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
    if note:
        fig.text(0.5, 0.01, note, ha="center", fontsize=7, color="firebrick")
    fig.tight_layout(rect=(0, 0.03 if note else 0, 1, 0.97))
    fig.savefig(path, dpi=120)
    fig.savefig(Path(path).with_suffix(".pdf"))
    plt.close(fig)
