"""Voxel-wise encoding models: features of the seen images -> every voxel in the brain mask.

Features larger than ``n_components`` are reduced by PCA fitted on the training
images only (each image once, not once per trial) and applied to the test images.
Ridge (``sdbrain.linear.ridge``: features standardised, per-voxel alpha by K-fold CV in trial order)
is fitted in blocks of voxels so that a 200k-voxel brain stays within memory; each
voxel is scored by Pearson r on the averaged test set, with its one-sided p and
the BH-FDR mask.

Unique variance (Figs. 7-8) is the difference of variance explained: the joint model
of z and another space X explains R2(z+X); X's unique variance is R2(z+X) - R2(z) and
z's is R2(z+X) - R2(X), with R2 = max(r, 0)^2 on the test set. Here the joint model is
the paper's, concatenated (each space PCA-reduced on its own, then side by side and
standardised, one alpha per voxel): one extra fit per pair. With one alpha shared by
both spaces, adding a space without signal costs the joint model some accuracy, so the
difference can be negative (toy run with the random model: about -0.05 in early
cortex). ``encode.joint: banded`` adds banded ridge joint models, one alpha per space
(``sdbrain.linear.banded``), and compares the two (``sdbrain.linear.partition``).
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from sklearn.decomposition import PCA
from tqdm import tqdm

from sdbrain.data.ingest import valid_columns
from sdbrain.data.io import align_rows, load_rows
from sdbrain.errors import ArgumentError, InputError
from sdbrain.linear import ridge, stats

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas as pd


@dataclass(frozen=True)
class Settings:
    """How the voxel-wise models are fitted and scored.

    Parameters
    ----------
    ridge : ridge.Settings
        The alpha grid, CV, intercept, backend and solver.
    fdr_q : float
        The Benjamini-Hochberg FDR level of the significance masks.
    memory_mb : float, optional
        Working memory of one fit: voxels per block are planned from it (``planned_block``).
    voxel_block : int, optional
        At most this many voxels at a time.
    """

    ridge: ridge.Settings
    fdr_q: float = 0.05
    memory_mb: float | None = None
    voxel_block: int | None = None

    @classmethod
    def pick(cls, values: Mapping) -> Settings:
        """Take the settings that ``values`` names (e.g. config section encode); defaults for the rest."""
        return cls(ridge.Settings.pick(values),
                   **{name: values[name] for name in ("fdr_q", "memory_mb", "voxel_block") if name in values})


@dataclass
class Responses:
    """A subject's brain-mask betas: training trials (a memory map, read in voxel blocks) and averaged test images."""

    y_train: np.ndarray
    y_test: np.ndarray
    train_images: np.ndarray  # unique training images, the rows of the design before expansion
    train_rows: np.ndarray    # each training trial's row in train_images
    test_ids: np.ndarray
    voxels: pd.DataFrame    # the valid voxels (flat index into the functional volume)
    columns: np.ndarray       # their columns in y_train and y_test


def responses(betas_dir, roi: str = "brain") -> Responses:
    """Read a subject's ingested betas of ``roi`` (``sdbrain.data.ingest``'s folder) as the models' responses."""
    y_train, train_ids, voxels, valid = valid_columns(betas_dir, roi, "train", mmap=True)
    y_test, test_ids, _, _ = valid_columns(betas_dir, roi, "test", mmap=False)
    train_images, train_rows = np.unique(train_ids, return_inverse=True)
    return Responses(y_train, y_test, train_images, train_rows, test_ids, voxels, np.flatnonzero(valid))


def reduced_space(features_path, ids_path, data: Responses, n_components: int, seed: int) -> Reduced:
    """One feature space's rows for the subject's training and test images, PCA-reduced when wide."""
    values, ids = load_rows(features_path, ids_path, mmap=True)
    return reduce(values, ids, data.train_images, data.test_ids, n_components, seed, str(features_path))


def read_voxels(path, voxels: np.ndarray) -> pd.DataFrame:
    """Read a model's voxels.tsv, which must list ``voxels`` in order (the subject's current brain mask)."""
    import pandas as pd
    table = pd.read_csv(path, sep="\t")
    if not np.array_equal(table["voxel"].to_numpy(), voxels):
        raise InputError(f"{path}: its voxels differ from the subject's current brain mask (rerun its encode job)")
    return table


def fit(x: Reduced, data: Responses, settings: Settings) -> Encoded:
    """Fit the model of one reduced space for every valid voxel of a subject."""
    return fit_voxels(x.train, data.train_rows, x.test, data.y_train, data.y_test, settings, columns=data.columns)


@dataclass
class Reduced:
    """A feature space's rows for the training and test images."""

    train: np.ndarray
    test: np.ndarray
    explained_variance: np.ndarray  # ratio per component (empty when no PCA was needed)


def reduce(features: np.ndarray, feature_ids, train_images, test_images, n_components: int, seed: int,
           source: str = "features") -> Reduced:
    """Features of the training and test images, PCA-reduced when wider than ``n_components``."""
    train = align_rows(features, feature_ids, train_images, source).astype(np.float32)
    test = align_rows(features, feature_ids, test_images, source).astype(np.float32)
    if train.shape[1] <= n_components:
        return Reduced(train, test, np.array([]))
    k = min(n_components, len(train_images))
    pca = PCA(n_components=k, svd_solver="randomized" if k < min(train.shape) // 2 else "full", random_state=seed)
    reduced_train = pca.fit_transform(train).astype(np.float32)  # fitted on training images only
    return Reduced(reduced_train, pca.transform(test).astype(np.float32), pca.explained_variance_ratio_)


@dataclass
class Encoded:
    """An encoding model's scores per voxel."""

    r: np.ndarray
    p: np.ndarray
    significant: np.ndarray
    alphas: np.ndarray
    backend: str


def fit_voxels(x_train, train_rows, x_test, y_train, y_test, settings: Settings, columns=None) -> Encoded:
    """Fit ridge from features to voxels, in blocks planned from ``settings.memory_mb``.

    A block has at most ``settings.voxel_block`` voxels.

    ``x_train`` holds one row per training image and ``train_rows`` maps each training
    trial to its image's row, so repeated images are not copied in memory. ``columns``
    selects the voxels (columns of ``y_train`` and ``y_test``) to fit; ``y_train`` may be
    a memory map, of which only one block of columns is read at a time.
    """
    columns = np.arange(y_train.shape[1]) if columns is None else np.asarray(columns)
    n_voxels = len(columns)
    r = np.full(n_voxels, np.nan)
    alphas = np.zeros(n_voxels)
    # the design's decompositions are computed once and serve every voxel block
    solver = ridge.prepare(x_train[train_rows], settings.ridge)
    backend = ""
    size = voxel_block(settings, len(train_rows), x_train.shape[1], len(x_test))
    for start in tqdm(range(0, n_voxels, size), desc=f"voxel blocks of {size}", unit="block"):
        block = slice(start, start + size)
        targets = columns[block]
        model = solver.fit(np.asarray(y_train[:, targets], dtype=np.float32))
        r[block] = stats.pearson_columns(model.predict(x_test), np.asarray(y_test[:, targets], dtype=np.float32))
        alphas[block] = model.alphas
        backend = model.describe()
    p = stats.correlation_pvalues(r, y_test.shape[0])
    return Encoded(r, p, stats.fdr_mask(p, settings.fdr_q), alphas, backend)


def planned_block(n_trials: int, n_features: int, n_test: int, budget_mb: float, bytes_per_value: int = 4) -> int:
    """Voxels per block so that one block's fit stays within ``budget_mb`` of working memory.

    Fixed: the design (trials x features) in about six copies (trial rows, standardised,
    each fold's training and validation part, centred, the refit's). Per voxel: its
    training responses five times (the block, the batch sent to the solver, each fold's
    split, centred copies, validation predictions), its weights and their copies (five
    features' worth), test responses and predictions. Plus 100 MB for the work buffers of
    torch and BLAS (about 50 MB measured). Checked against peak memory at 200k voxels in
    ``benchmarks/encoding_memory.py``.
    """
    fixed = 6 * n_trials * n_features * bytes_per_value + 100 * 2**20
    per_voxel = (5 * n_trials + 5 * n_features + 2 * n_test) * bytes_per_value
    free = budget_mb * 2**20 - fixed
    if free < per_voxel:
        raise ArgumentError("memory_mb", f"{budget_mb:g} MB does not hold the design matrix and work buffers' "
                            f"{fixed / 2**20:.0f} MB and one voxel ({n_trials} trials x {n_features} features)")
    return int(free // per_voxel)


def voxel_block(settings: Settings, n_trials: int, n_features: int, n_test: int) -> int:
    """Plan the voxels fitted at a time: from ``settings.memory_mb``, at most ``settings.voxel_block``."""
    block = settings.voxel_block or 2**31
    if settings.memory_mb:
        block = min(block, planned_block(n_trials, n_features, n_test, settings.memory_mb))
    return block


def joint(a: Reduced, b: Reduced) -> Reduced:
    """Two spaces side by side (each already reduced on its own training images)."""
    return Reduced(np.hstack([a.train, b.train]), np.hstack([a.test, b.test]),
                   np.concatenate([a.explained_variance, b.explained_variance]))


def explained(r: np.ndarray) -> np.ndarray:
    """Variance of the test responses explained: max(r, 0)^2 (negative r explains nothing)."""
    return np.clip(np.nan_to_num(r, nan=0.0), 0, None) ** 2


def over_noise_ceiling(r: np.ndarray, ceiling: np.ndarray) -> np.ndarray:
    """Return the share of explainable variance explained: r^2 over the noise ceiling (NaN where it is 0)."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ceiling > 0, explained(r) / ceiling, np.nan)


def unique_variance(r_joint: np.ndarray, r_other: np.ndarray) -> np.ndarray:
    """Variance the joint model explains beyond the other space alone."""
    return explained(r_joint) - explained(r_other)


def best_layer(r: np.ndarray, significant: np.ndarray) -> np.ndarray:
    """(layers, voxels) r and FDR masks -> 1-based index of the layer with the highest r, 0 where no layer is significant."""
    best = np.argmax(np.where(np.isnan(r), -np.inf, r), axis=0) + 1
    return np.where(significant.any(axis=0), best, 0)


# --- per-ROI summaries of a subject's models (rule encode_summary) ---


def with_roi(table: pd.DataFrame, streams: np.ndarray) -> pd.DataFrame:
    """Return a copy of a voxels.tsv table with the streams ROI of each voxel.

    ``streams``: the label volume, flattened.
    """
    from sdbrain.data.nsd import STREAMS
    names = {0: "unlabelled", **STREAMS}
    table = table.copy()
    table["roi"] = [names.get(int(v), str(v)) for v in streams[table["voxel"].to_numpy()]]
    return table


def roi_summary(subject: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per space and ROI: voxels, mean r, the significant share and the noise ceiling (``tables``: space -> with_roi)."""
    import pandas as pd
    return pd.DataFrame([
        {"subject": subject, "space": space, "roi": roi, "voxels": len(part), "mean_r": part["r"].mean(),
         "significant_fraction": part["significant"].mean(), "mean_noise_ceiling": part["noise_ceiling"].mean(),
         "mean_r2_over_nc": part["r2_over_nc"].mean()}
        for space, table in tables.items() for roi, part in table.groupby("roi")])


def unique_summary(subject: str, tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Summarise each joint model z+X per ROI: mean r, and the unique variance of z and X.

    The unique variances are averaged where the joint model is significant (``tables``: X -> with_roi of z+X).
    """
    import pandas as pd
    rows = []
    for space, table in tables.items():
        for roi, part in table.groupby("roi"):
            sig = part[part["significant"] == 1]
            rows.append({"subject": subject, "joint": f"z+{space}", "roi": roi, "significant_voxels": len(sig),
                         "mean_r_joint": part["r"].mean(), "unique_z": sig["unique_z"].mean(),
                         "unique_other": sig[f"unique_{space}"].mean()})
    return pd.DataFrame(rows)


def layer_summary(subject: str, tables: dict[str, pd.DataFrame], layers: list[str]) -> pd.DataFrame:
    """Per step and ROI: each layer's share of the voxels it predicts best.

    ``tables``: group -> with_roi of its best_layer.tsv; voxels without a significant layer are left out.
    """
    import pandas as pd
    rows = []
    for group, table in tables.items():
        for roi, part in table[table["best_layer"] > 0].groupby("roi"):
            shares = part["layer"].value_counts(normalize=True)
            rows.append({"subject": subject, "step": group, "roi": roi, "significant_voxels": len(part),
                         **{f"share_{k}": v for k, v in shares.items()}})
    columns = ["subject", "step", "roi", "significant_voxels"] + [f"share_{k}" for k in layers]
    return pd.DataFrame(rows, columns=columns).fillna(0.0)
