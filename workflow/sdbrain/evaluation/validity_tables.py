"""The validity analysis of one subject as tables (rule validity), from sdbrain.evaluation.validity's measures.

Methods are the subject's reconstructions (z, c, zc<s>) and the controls of sdbrain.evaluation.controls;
each is scored on the evaluation networks' late feature (validity.feature) by two-way and
N-way identification among the test images, top-k retrieval and rank, and novel (C+1-way)
identification against every training image of the subject. The decoded z and c are scored
in their own spaces the same way (methods decoded, shuffled, retrieval). Every per-image
score is summarised with bootstrap intervals over all test images, by novelty tertile (the
late feature's nearest training image) and, in the toy world, by the scenes' novel flag.

One averaging rule for every score of a method with several samples per image (as in the
main evaluation): r averaged over its samples. With unit-norm rows r is a dot product, so the
mean r of the samples against any candidate is r against the mean of the normalised samples
(``sample_mean``); C+1-way identification uses that. One tie rule: ``validity.TIE``.
"""
from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from sdbrain.data.io import align_rows
from sdbrain.errors import InputError
from sdbrain.evaluation import controls, validity
from sdbrain.linear.stats import correlation_matrix, unit_rows


@dataclass(frozen=True)
class Settings:
    """The validity analysis's identification, intervals, tests and collapse measure.

    Parameters
    ----------
    n_way : sequence of int
        N-way identification for each N (N above the number of test images is skipped).
    pools : int
        Seeded distractor pools per test image for N > 2.
    top : sequence of int
        Top-k retrieval among the test images, for each k.
    bootstrap : int
        Resamples of the test images for the 95 % intervals.
    permutations : int
        Sign flips of the paired permutation test between methods.
    collapse_k : int
        Top principal components of the training targets (collapse).
    memory_mb : float
        Per block of training candidates (nearest neighbours, C+1-way identification).
    seed : int
        Seeds pools, resamples, permutations and the shuffled control.
    """

    n_way: tuple[int, ...] = (2, 10, 50)
    pools: int = 100
    top: tuple[int, ...] = (1, 5)
    bootstrap: int = 1000
    permutations: int = 5000
    collapse_k: int = 20
    memory_mb: float = 1000
    seed: int = 0

    @classmethod
    def pick(cls, values: Mapping) -> Settings:
        """Take the settings that ``values`` names (e.g. config section validity); defaults for the rest."""
        return cls(**{f.name: values[f.name] for f in fields(cls) if f.name in values})


@dataclass
class LateFeatures:
    """The late evaluation feature of the test images, the training images and every scored reconstruction.

    The training images are the subjects'; the reconstructions are every one the analysis scores
    (rule validity_features). Stored in one ``.npz`` file.
    """

    test_ids: np.ndarray
    originals: np.ndarray        # (test, d)
    train_ids: np.ndarray
    train: np.ndarray            # (train, d)
    recon: dict                  # (source, method) -> (ids, (images, samples, d)); source: a subject or a control
    random_weights: list         # the networks with seeded random weights

    def save(self, path) -> None:
        """Write the features to ``path`` (.npz; each reconstruction under 'recon__<source>__<method>')."""
        arrays = {f"{part}__{source}__{method}": value for (source, method), (ids, values) in self.recon.items()
                  for part, value in (("ids", ids), ("recon", values))}
        np.savez(path, test_ids=self.test_ids, originals=self.originals, train_ids=self.train_ids, train=self.train,
                 random_weights=np.array(self.random_weights), **arrays)

    @classmethod
    def load(cls, path) -> LateFeatures:
        """Read the features that ``save`` wrote."""
        with np.load(path) as saved:
            recon = {tuple(key.split("__")[1:]): (saved[key.replace("recon__", "ids__", 1)], saved[key])
                     for key in saved.files if key.startswith("recon__")}
            return cls(saved["test_ids"], saved["originals"], saved["train_ids"], saved["train"], recon,
                       saved["random_weights"].tolist())

    def reconstructions(self, source: str, method: str, ids: np.ndarray, path: str = "late features") -> np.ndarray:
        """Return the features of the reconstructions of ``source``'s ``method`` for the test images ``ids``."""
        if (source, method) not in self.recon:
            raise InputError(f"{path}: no reconstructions '{source}__{method}' (rerun rule validity_features)")
        recon_ids, values = self.recon[source, method]
        return align_rows(values, recon_ids, ids, f"{path} ({source}__{method})")


@dataclass
class Subject:
    """What the validity analysis of one subject reads: late features, decoded and true z and c."""

    test_ids: np.ndarray
    originals: np.ndarray        # (test, d) late feature of the test images
    train: np.ndarray            # (train, d) late feature of the subject's training images
    train_ids: np.ndarray
    recon: dict                  # method -> (test, samples, d) late feature of its reconstructions
    decoded: dict                # "z"/"c" -> (test, dims) decoded features
    true_test: dict              # "z"/"c" -> (test, dims)
    true_train: dict             # "z"/"c" -> (train, dims)


def similarity(recon: np.ndarray, originals: np.ndarray) -> np.ndarray:
    """(test, test) r between reconstruction i (averaged over its samples) and original j."""
    return np.mean([correlation_matrix(recon[:, s], originals) for s in range(recon.shape[1])], axis=0)


def with_controls(subject: Subject, generated: dict, zc: str, settings: Settings,
                  caption_c: np.ndarray | None = None) -> tuple[dict, np.ndarray, np.ndarray]:
    """Add the four controls (late features) to the subject's methods, and with ``caption_c`` a fifth.

    ``caption_c`` (test, dims), the c of the decoded captions (method text), adds caption_retrieval: the training
    image whose caption embedding (true c) is nearest the decoded caption's, what retrieving by the decoded
    caption alone reaches.
    Returns the subject's methods plus the controls, the shuffled permutation and the retrieved training rows.
    """
    order = controls.permutation(len(subject.test_ids), settings.seed)
    retrieved = validity.retrieval_baseline([subject.decoded["z"], subject.decoded["c"]],
                                            [subject.true_train["z"], subject.true_train["c"]], settings.memory_mb)
    methods = dict(subject.recon)
    methods["shuffled"] = subject.recon[zc][order]
    methods["retrieval"] = subject.train[retrieved][:, None]
    if caption_c is not None:
        nearest = validity.retrieval_baseline([caption_c], [subject.true_train["c"]], settings.memory_mb)
        methods["caption_retrieval"] = subject.train[nearest][:, None]
    methods.update(generated)
    return methods, order, retrieved


def sample_mean(features: np.ndarray) -> np.ndarray:
    """Return the mean of each image's normalised samples: (test, samples, d) -> (test, d).

    r against it ranks candidates as the samples' mean r does (the two differ by a positive factor per image).
    """
    return np.mean([unit_rows(features[:, s]) for s in range(features.shape[1])], axis=0)


def identification_scores(features: np.ndarray, truth: np.ndarray, train: np.ndarray, settings: Settings,
                          samples: bool = True) -> dict[str, np.ndarray]:
    """Per-image scores of one method: features (test, samples, d) when ``samples`` else (test, d)."""
    s = similarity(features, truth) if samples else correlation_matrix(features, truth)
    n = len(truth)
    out = {"twoway": validity.n_way_identification(s, 2, settings.pools, settings.seed)}
    for k in settings.n_way:
        if 2 < k <= n:
            out[f"{k}way"] = validity.n_way_identification(s, k, settings.pools, settings.seed)
    ranks = validity.retrieval_ranks(s)
    out["rank"] = ranks.astype(float)
    out.update(validity.retrieval_hits(ranks, settings.top))
    mean = sample_mean(features) if samples else features
    rank, accuracy = validity.novel_identification(mean, truth, train, settings.memory_mb)
    out["cplus1"], out["cplus1_top1"] = accuracy, (rank == 1).astype(float)
    return out


def scores(subject: Subject, methods: dict, order: np.ndarray, retrieved: np.ndarray, settings: Settings) -> pd.DataFrame:
    """Long table: space (late, z, c), method, metric, nsd_id, value."""
    rows = []

    def add(space, method, per_image):
        for metric, values in per_image.items():
            rows.append(pd.DataFrame({"space": space, "method": method, "metric": metric, "nsd_id": subject.test_ids,
                                      "value": values}))
    for method, features in methods.items():
        add("late", method, identification_scores(features, subject.originals, subject.train, settings))
    for target in ("z", "c"):
        decoded, truth, train = subject.decoded[target], subject.true_test[target], subject.true_train[target]
        for method, values in (("decoded", decoded), ("shuffled", decoded[order]), ("retrieval", train[retrieved])):
            add(target, method, identification_scores(values, truth, train, settings, samples=False))
    return pd.concat(rows, ignore_index=True)


def novelty(subject: Subject, settings: Settings, flags: pd.Series | None = None) -> pd.DataFrame:
    """Tabulate each test image's novelty: its nearest training images, their r, its rank and tertile.

    Per test image: its nearest training image in the late feature and in c, the similarity,
    its rank by novelty (1 - r, late) among the test images, the novelty tertile and, in the toy
    world, the scene's novel flag.
    """
    late_index, late_r = validity.nearest_training(subject.originals, subject.train, settings.memory_mb)
    c_index, c_r = validity.nearest_training(subject.true_test["c"], subject.true_train["c"], settings.memory_mb)
    table = pd.DataFrame({"nsd_id": subject.test_ids, "nearest_late": subject.train_ids[late_index],
                          "r_late": late_r, "nearest_c": subject.train_ids[c_index], "r_c": c_r,
                          "novelty_rank": late_r.argsort(kind="stable").argsort() + 1,  # 1 = the most novel
                          "tertile": validity.novelty_tertiles(1 - late_r)})
    if flags is not None:
        table["toy_novel"] = flags.reindex(subject.test_ids).fillna("").to_numpy()
    return table


def groups(novel: pd.DataFrame) -> dict[str, np.ndarray]:
    """Masks over the test images: all, each novelty tertile, and the toy world's familiar/novel scenes."""
    out = {"all": np.ones(len(novel), bool)}
    out.update({f"tertile:{t}": (novel["tertile"] == t).to_numpy() for t in ("familiar", "middle", "novel")})
    if "toy_novel" in novel:
        out["toy:familiar"] = (novel["toy_novel"] == "").to_numpy()
        out["toy:novel"] = (novel["toy_novel"] != "").to_numpy()
    return out


def summary(long: pd.DataFrame, novel: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Mean and bootstrap 95 % interval of every (space, method, metric) in every group of images."""
    masks = groups(novel.set_index("nsd_id").loc[long["nsd_id"].unique()].reset_index())
    rows = []
    for (space, method, metric), part in long.groupby(["space", "method", "metric"], sort=False):
        values = part["value"].to_numpy()
        for group, mask in masks.items():
            if mask.sum() < 2:
                continue
            low, high = validity.bootstrap_ci(values[mask], settings.bootstrap, settings.seed)
            rows.append({"space": space, "method": method, "metric": metric, "group": group, "n": int(mask.sum()),
                         "mean": float(values[mask].mean()), "ci_low": float(low), "ci_high": float(high)})
    return pd.DataFrame(rows)


def tests(long: pd.DataFrame, settings: Settings, metrics=("twoway", "cplus1")) -> pd.DataFrame:
    """Paired permutation tests between every two methods on the late feature, per metric."""
    late = long[long["space"] == "late"]
    names = list(dict.fromkeys(late["method"]))
    rows = []
    for metric in metrics:
        table = late[late["metric"] == metric].pivot(index="nsd_id", columns="method", values="value")
        for i, a in enumerate(names):
            for b in names[i + 1:]:
                x, y = table[a].to_numpy(), table[b].to_numpy()
                rows.append({"metric": metric, "method_a": a, "method_b": b, "mean_a": x.mean(), "mean_b": y.mean(),
                             "difference": x.mean() - y.mean(),
                             "p": validity.paired_permutation(x, y, settings.permutations, settings.seed)})
    return pd.DataFrame(rows)


def collapse(subject: Subject, settings: Settings) -> pd.DataFrame:
    """Measure output dimension collapse per decoded target (z, c), decoded against true test features.

    Per target: the share of variance inside the top-k principal components of the training targets,
    and the participation ratio, of the decoded against the true test features.
    """
    rows = []
    for target in ("z", "c"):
        train = subject.true_train[target]
        k = min(settings.collapse_k, *train.shape)
        components, mean = validity.training_components(train, k, settings.seed, settings.memory_mb)
        for what, values in (("decoded", subject.decoded[target]), ("true", subject.true_test[target])):
            rows.append({"target": target, "features": what, "k": k,
                         "share_in_top_k": validity.variance_in_span(values, components, mean),
                         "participation_ratio": validity.participation_ratio(values)})
    return pd.DataFrame(rows)


def _cell(table: pd.DataFrame, method: str, group: str = "all") -> pd.Series | None:
    rows = table[(table["method"] == method) & (table["group"] == group)]
    return rows.iloc[0] if len(rows) else None


def statements(summary: pd.DataFrame, tests: pd.DataFrame, feature: str) -> str:
    """Write the validity report in Markdown: per subject and method, identification against the controls.

    Per subject and method: two-way and novel identification on the late feature with
    intervals, how far each is above the retrieval baseline and below the ceiling (with the paired
    permutation test), and, in the toy world, on familiar and novel scenes.
    """
    lines = [f"# Reconstruction or retrieval ({feature})", "",
             "Mean over test images [bootstrap 95 % interval]; p: paired permutation test against the control.", ""]
    for subject, part in summary[summary["space"] == "late"].groupby("subject", sort=False):
        lines += [f"## {subject}", "", "| method | metric | all images | toy: familiar | toy: novel | above retrieval "
                  "(p) | below ceiling (p) |", "|---|---|---|---|---|---|---|"]
        methods = [m for m in dict.fromkeys(part["method"]) if m not in controls.CONTROLS] + list(controls.CONTROLS)
        for metric in ("twoway", "cplus1"):
            table = part[part["metric"] == metric]
            test = tests[(tests["subject"] == subject) & (tests["metric"] == metric)]
            for method in methods:
                cells = [_cell(table, method, g) for g in ("all", "toy:familiar", "toy:novel")]
                text = [f"{c['mean']:.3f} [{c['ci_low']:.3f}, {c['ci_high']:.3f}]" if c is not None else "" for c in cells]
                lines.append(f"| {method} | {metric} | " + " | ".join(text) + " | "
                             + " | ".join(_versus(test, table, method, control) for control in ("retrieval", "ceiling"))
                             + " |")
        lines.append("")
    return "\n".join(lines)


def _versus(test: pd.DataFrame, table: pd.DataFrame, method: str, control: str) -> str:
    """Format the gap to ``control`` with the test's p: method - control for 'above', control - method for 'below'."""
    if method == control:
        return ""
    row = test[((test["method_a"] == method) & (test["method_b"] == control))
               | ((test["method_a"] == control) & (test["method_b"] == method))]
    ours, theirs = _cell(table, method), _cell(table, control)
    if row.empty or ours is None or theirs is None:
        return ""
    gap = ours["mean"] - theirs["mean"] if control == "retrieval" else theirs["mean"] - ours["mean"]
    return f"{gap:+.3f} (p = {row['p'].iloc[0]:.3g})"
