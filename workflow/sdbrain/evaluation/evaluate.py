"""Evaluation of reconstructions: features of fixed networks, identification, PixCorr and SSIM.

Each is computed as a named recipe prescribes (``sdbrain.evaluation.recipes``: takagi, mindeye,
braindiffuser).

takagi (the paper's protocol): each original is identified against every other
image's reconstructions, Pearson r averaged over samples. mindeye and braindiffuser
(the community's): each reconstruction is identified against every original, one
sample at a time and averaged; EfficientNet-B1 and SwAV as mean correlation distance;
PixCorr and SSIM. Ties count as failures in every recipe, as in each group's code.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from sdbrain.evaluation import recipes as rc
from sdbrain.evaluation.networks import NETWORKS, build_network, load_networks  # noqa: F401 -- the scripts' entry points

if TYPE_CHECKING:  # annotations only: pandas is imported where it is used
    import pandas as pd


def feature_extractor(net, name: str, nodes: list[str]):
    """Return a function of a batch returning the flattened activations of ``nodes``.

    A convolutional network is traced once (torchvision's feature extractor) and runs
    channels-last, which oneDNN computes about a third faster on a CPU (Inception v3,
    measured; the same values up to float32 rounding, relative 1e-6).
    """
    if name == "clip":
        def clip(x):
            out = net(pixel_values=x, output_hidden_states=True)
            got = {"embeds": out.image_embeds, "hidden6": out.hidden_states[6], "hidden12": out.hidden_states[12]}
            return {n: got[n].flatten(1).float().numpy() for n in nodes}
        return clip
    from torchvision.models.feature_extraction import create_feature_extractor
    extractor = create_feature_extractor(net, return_nodes={n: n for n in nodes}).to(memory_format=torch.channels_last)

    def convolutional(x):
        # flatten reads the logical (channel, row, column) order whatever the memory layout
        return {n: v.flatten(1).float().numpy()
                for n, v in extractor(x.contiguous(memory_format=torch.channels_last)).items()}
    return convolutional


def feature_key(recipe: rc.Recipe, feature: rc.Feature) -> str:
    """Return the name of a recipe's feature in ``extract``'s result: '<recipe>.<metric>'."""
    return f"{recipe.name}.{feature.metric}"


def extract(images: np.ndarray, networks: dict, recipes: list[rc.Recipe], batch_size: int = 16) -> dict[str, np.ndarray]:
    """Every feature of the given recipes for uint8 images, keyed ``recipe.metric``.

    Features that share a network, input size and resizing are computed in one pass.
    """
    passes: dict[tuple, list[tuple[rc.Recipe, rc.Feature]]] = {}
    for recipe in recipes:
        for feature in recipe.features:
            passes.setdefault((feature.network, feature.size, feature.resize, recipe.base_size), []).append((recipe, feature))
    features: dict[str, list[np.ndarray]] = {}
    for (name, _, _, _), members in sorted(passes.items(), key=lambda item: str(item[0])):
        network = feature_extractor(networks[name], name, sorted({f.node for _, f in members}))
        recipe, first = members[0]
        for start in tqdm(range(0, len(images), batch_size), desc=f"{name} ({recipe.name})", unit="batch"):
            with torch.inference_mode():
                values = network(rc.prepare(images[start:start + batch_size], first, recipe))
            for recipe_, feature in members:
                features.setdefault(feature_key(recipe_, feature), []).append(values[feature.node])
    return {k: np.concatenate(v) for k, v in features.items()}


def low_level_scores(original: np.ndarray, samples: np.ndarray, recipe: rc.Recipe) -> tuple[float, float]:
    """PixCorr and SSIM of one original against its reconstructions, averaged over samples."""
    o = rc.low_level_images(original[None], recipe, reconstruction=False)[0]
    recon = rc.low_level_images(samples, recipe, reconstruction=True)
    pix = [rc.pixcorr(o, r, recipe.low_level.order) for r in recon]
    return float(np.mean(pix)), float(np.mean([rc.ssim(o, r) for r in recon]))


# --- scores ------------------------------------------------------------------------

def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (a float32 copy), so that dot products are Pearson r.

    ``stats.unit_rows`` does the same with another float32 summation of the norm (no squared copy);
    the two differ in the last bits, so the evaluation keeps its own to keep its scores.
    """
    x = np.array(x, dtype=np.float32)
    x -= x.mean(-1, keepdims=True)
    x /= np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12
    return x


def _wins(r: np.ndarray, axis: int) -> np.ndarray:
    """Fraction of off-diagonal entries the diagonal beats, along rows (axis 1) or columns (axis 0).

    Strictly: a tie is a failure (Takagi's ``r_true > r_fake``, MindEye's ``r < congruents``).
    """
    diagonal = np.diag(r)
    own = diagonal[:, None] if axis == 1 else diagonal[None, :]
    return (own > r).sum(axis) / (r.shape[0] - 1)


def paper_identification(original: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per original i: share of other images j with mean_s r(orig_i, recon_i,s) > mean_s r(orig_i, recon_j,s).

    With unit-norm rows, r is a dot product, so the mean over samples of r equals r
    against the mean of the normalised samples: one matrix product for all samples.
    """
    mean_recon = sum(normalise_rows(recon[:, s]) for s in range(recon.shape[1])) / recon.shape[1]
    return _wins(normalise_rows(original) @ mean_recon.T, axis=1)


def community_identification(original: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Identify each reconstruction among the originals (each sample on its own, then averaged).

    Per reconstruction j: the share of other originals i with r(orig_j, recon_j) > r(orig_i, recon_j),
    as in Brain-Diffuser and MindEye.
    """
    o = normalise_rows(original)
    return np.mean([_wins(o @ normalise_rows(recon[:, s]).T, axis=0) for s in range(recon.shape[1])], axis=0)


def paired_correlation(original: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per image: r(orig_i, recon_i,s) averaged over samples."""
    o = normalise_rows(original)
    return sum(np.einsum("nd,nd->n", o, normalise_rows(recon[:, s])) for s in range(recon.shape[1])) / recon.shape[1]


# --- reading reconstructions ---------------------------------------------------------

def read_reconstructions(manifest: str, test_ids) -> np.ndarray:
    """(n_test, n_samples, H, W, 3) uint8 reconstructions listed in a manifest, in test-id order.

    Every test image must have the same number of samples, and all images one size.
    """
    import pandas as pd

    from sdbrain.errors import InputError

    table = pd.read_csv(manifest, sep="\t")
    missing = sorted(set(int(i) for i in test_ids) - set(table["nsd_id"]))
    if missing:
        raise InputError(f"{manifest}: no reconstruction of {len(missing)} test image(s), e.g. 73k ids {missing[:5]}")
    counts = table.groupby("nsd_id")["sample"].nunique()
    if counts.nunique() > 1:
        short = counts[counts < counts.max()]
        raise InputError(f"{manifest}: {len(short)} image(s) have fewer than {counts.max()} samples, e.g. 73k ids "
                         f"{short.index[:5].tolist()} with {short.iloc[:5].tolist()}")
    images, size = [], None
    by_id = table.sort_values(["nsd_id", "sample"]).groupby("nsd_id")
    for i in test_ids:
        samples = []
        for path in by_id.get_group(int(i))["path"]:
            image = np.asarray(Image.open(path).convert("RGB"))
            if size is None:
                size = image.shape
            elif image.shape != size:
                raise InputError(f"{path}: image of size {image.shape[:2]} among reconstructions of size {size[:2]} ({manifest})")
            samples.append(image)
        images.append(samples)
    return np.asarray(images, dtype=np.uint8)


def score(originals: np.ndarray, original_features: dict, recon: np.ndarray, recon_features: dict, ids,
          recipes: list[rc.Recipe]) -> pd.DataFrame:
    """Tidy per-image scores of one subject and method: protocol (the recipe), metric, nsd_id, value."""
    import pandas as pd
    rows = []

    def add(protocol, metric, values):
        rows.extend({"protocol": protocol, "metric": metric, "nsd_id": int(i), "value": float(v)} for i, v in zip(ids, values))

    rules = {"two_way_original": paper_identification, "two_way_reconstruction": community_identification,
             "distance": lambda o, r: 1 - paired_correlation(o, r)}
    for recipe in recipes:
        for feature in recipe.features:
            key = feature_key(recipe, feature)
            add(recipe.name, feature.metric, rules[feature.score](original_features[key], recon_features[key]))
        if recipe.low_level:
            low = [low_level_scores(o, r, recipe)
                   for o, r in tqdm(zip(originals, recon), desc=f"{recipe.name} PixCorr, SSIM", total=len(originals), unit="image")]
            add(recipe.name, "PixCorr", [p for p, _ in low])
            add(recipe.name, "SSIM", [s for _, s in low])
    return pd.DataFrame(rows)


def extract_samples(recon: np.ndarray, networks: dict, recipes: list[rc.Recipe], batch_size: int) -> dict[str, np.ndarray]:
    """Features of (n, samples, H, W, 3) reconstructions as (n, samples, d) arrays."""
    n, s = recon.shape[:2]
    flat = extract(recon.reshape(n * s, *recon.shape[2:]), networks, recipes, batch_size)
    return {k: v.reshape(n, s, -1) for k, v in flat.items()}
