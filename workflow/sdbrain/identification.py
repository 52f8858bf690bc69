"""Evaluation of reconstructions: image features of fixed networks, two-way identification,
and the low-level metrics of the community protocol (SPEC section 4).

Paper protocol: images resized to 299 (centre crop of a square image); AlexNet
features.5, features.12, classifier.5; Inception v3 flatten; CLIP image embedding and
vision hidden states 6 and 12. Identification compares each original with its own
reconstruction against every other image's reconstruction, Pearson r averaged over
samples. Community protocol (Brain-Diffuser, MindEye): PixCorr and SSIM at 425 px,
AlexNet features.4 (Alex2) and features.11 (Alex5), Inception v3 avgpool, CLIP
embedding, identified per reconstruction; EfficientNet-B1 and SwAV-ResNet50 avgpool
scored as mean correlation distance.
"""
from __future__ import annotations

import numpy as np
import torch
from PIL import Image
from scipy import ndimage

IMAGENET_MEAN, IMAGENET_STD = (0.485, 0.456, 0.406), (0.229, 0.224, 0.225)
CLIP_MEAN, CLIP_STD = (0.48145466, 0.4578275, 0.40821073), (0.26862954, 0.26130258, 0.27577711)

# feature name -> (network, node, input size, protocol use)
PAPER = {"alexnet.features.5": ("alexnet", "features.5", 299), "alexnet.features.12": ("alexnet", "features.12", 299),
         "alexnet.classifier.5": ("alexnet", "classifier.5", 299), "inception_v3.flatten": ("inception_v3", "flatten", 299),
         "clip.embeds": ("clip", "embeds", 224), "clip.hidden6": ("clip", "hidden6", 224),
         "clip.hidden12": ("clip", "hidden12", 224)}
COMMUNITY_TWO_WAY = {"Alex2": ("alexnet", "features.4", 224), "Alex5": ("alexnet", "features.11", 224),
                     "Incep": ("inception_v3", "flatten", 299), "CLIP": ("clip", "embeds", 224)}
COMMUNITY_DISTANCE = {"Eff": ("efficientnet_b1", "flatten", 240), "SwAV": ("swav_resnet50", "flatten", 224)}
LOW_LEVEL_SIZE = 425


# --- networks -------------------------------------------------------------------

NETWORKS = ("alexnet", "inception_v3", "clip", "efficientnet_b1", "swav_resnet50")


def load_networks(weights: dict, seed: int, clip_config: dict) -> tuple[dict, list[str]]:
    """All networks of both protocols, and the names of those with seeded random weights."""
    random = [name for name in NETWORKS if not weights.get(name)]
    return {name: build_network(name, weights.get(name), seed + k, clip_config) for k, name in enumerate(NETWORKS)}, random


def build_network(name: str, weights: str | None, seed: int, clip_config: dict):
    """A network in eval mode, from local weights or (labelled by the caller) seeded random ones."""
    import torchvision
    torch.manual_seed(seed)
    if name == "clip":
        from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection
        if weights:
            return CLIPVisionModelWithProjection.from_pretrained(weights, local_files_only=True).eval()
        return CLIPVisionModelWithProjection(CLIPVisionConfig(**clip_config)).eval()
    constructors = {"alexnet": lambda: torchvision.models.alexnet(weights=None),
                    "inception_v3": lambda: torchvision.models.inception_v3(weights=None, aux_logits=False, init_weights=True),
                    "efficientnet_b1": lambda: torchvision.models.efficientnet_b1(weights=None),
                    "swav_resnet50": lambda: torchvision.models.resnet50(weights=None)}
    net = constructors[name]()
    if weights:
        state = torch.load(weights, map_location="cpu", weights_only=True)
        net.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state, strict=False)
    return net.eval()


def prepare(images: np.ndarray, size: int, mean, std) -> torch.Tensor:
    """uint8 (n, H, W, 3) -> normalised (n, 3, size, size): resize the shorter side, centre crop."""
    out = []
    for im in images:
        pil = Image.fromarray(im)
        scale = size / min(pil.size)
        pil = pil.resize((max(size, round(pil.width * scale)), max(size, round(pil.height * scale))), Image.BICUBIC)
        left, top = (pil.width - size) // 2, (pil.height - size) // 2
        out.append(np.asarray(pil.crop((left, top, left + size, top + size)), dtype=np.float32) / 255)
    x = torch.from_numpy(np.stack(out)).permute(0, 3, 1, 2)
    return (x - torch.tensor(mean)[:, None, None]) / torch.tensor(std)[:, None, None]


@torch.no_grad()
def network_features(net, name: str, nodes: list[str], x: torch.Tensor) -> dict[str, np.ndarray]:
    """Flattened activations of ``nodes`` for a batch."""
    if name == "clip":
        out = net(pixel_values=x, output_hidden_states=True)
        got = {"embeds": out.image_embeds, "hidden6": out.hidden_states[6], "hidden12": out.hidden_states[12]}
        return {n: got[n].flatten(1).float().numpy() for n in nodes}
    from torchvision.models.feature_extraction import create_feature_extractor
    extractor = create_feature_extractor(net, return_nodes={n: n for n in nodes})
    return {n: v.flatten(1).float().numpy() for n, v in extractor(x).items()}


def extract(images: np.ndarray, networks: dict, batch_size: int = 16) -> dict[str, np.ndarray]:
    """Every feature of both protocols for uint8 images; ``networks`` maps a network name to a module."""
    wanted: dict[tuple[str, int], set[str]] = {}
    for spec in (*PAPER.values(), *COMMUNITY_TWO_WAY.values(), *COMMUNITY_DISTANCE.values()):
        wanted.setdefault((spec[0], spec[2]), set()).add(spec[1])
    features: dict[str, list[np.ndarray]] = {}
    for (name, size), nodes in sorted(wanted.items()):
        mean, std = (CLIP_MEAN, CLIP_STD) if name == "clip" else (IMAGENET_MEAN, IMAGENET_STD)
        for start in range(0, len(images), batch_size):
            x = prepare(images[start:start + batch_size], size, mean, std)
            for node, values in network_features(networks[name], name, sorted(nodes), x).items():
                features.setdefault(f"{name}@{size}.{node}", []).append(values)
    return {k: np.concatenate(v) for k, v in features.items()}


def low_level(image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Pixels (for PixCorr) and grayscale (for SSIM) of one image at 425 px, in [0, 1]."""
    resized = np.asarray(Image.fromarray(image).resize((LOW_LEVEL_SIZE, LOW_LEVEL_SIZE), Image.BICUBIC),
                         dtype=np.float32) / 255
    return resized.ravel(), (resized @ np.array([0.2989, 0.587, 0.114], dtype=np.float32))


def low_level_scores(original: np.ndarray, samples: list[np.ndarray]) -> tuple[float, float]:
    """PixCorr and SSIM of one original against its reconstructions, averaged over samples."""
    pixels, gray = low_level(original)
    pix, ss = [], []
    for recon in samples:
        p, g = low_level(recon)
        pix.append(np.corrcoef(pixels, p)[0, 1])
        ss.append(ssim(gray, g))
    return float(np.mean(pix)), float(np.mean(ss))


def feature_key(spec: tuple[str, str, int]) -> str:
    return f"{spec[0]}@{spec[2]}.{spec[1]}"


# --- scores ------------------------------------------------------------------------

def normalise_rows(x: np.ndarray) -> np.ndarray:
    """Rows centred and scaled to unit norm (a float32 copy), so that dot products are Pearson r."""
    x = np.array(x, dtype=np.float32)
    x -= x.mean(-1, keepdims=True)
    x /= np.linalg.norm(x, axis=-1, keepdims=True) + 1e-12
    return x


def correlation_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """r[i, j] = Pearson r between row i of ``a`` and row j of ``b`` (one matrix product)."""
    return normalise_rows(a) @ normalise_rows(b).T


def _wins(r: np.ndarray, axis: int) -> np.ndarray:
    """Fraction of off-diagonal entries beaten by the diagonal, along rows (axis 1) or columns (axis 0); ties count half."""
    diagonal = np.diag(r)
    own = diagonal[:, None] if axis == 1 else diagonal[None, :]
    n = r.shape[0]
    wins = (own > r).sum(axis) + 0.5 * ((own == r).sum(axis) - 1)
    return wins / (n - 1)


def paper_identification(original: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per original i: share of other images j with mean_s r(orig_i, recon_i,s) > mean_s r(orig_i, recon_j,s).

    With unit-norm rows, r is a dot product, so the mean over samples of r equals r
    against the mean of the normalised samples: one matrix product for all samples.
    """
    mean_recon = sum(normalise_rows(recon[:, s]) for s in range(recon.shape[1])) / recon.shape[1]
    return _wins(normalise_rows(original) @ mean_recon.T, axis=1)


def community_identification(original: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per reconstruction j (each sample on its own, then averaged): share of other originals i with
    r(orig_j, recon_j) > r(orig_i, recon_j), as in Brain-Diffuser and MindEye."""
    o = normalise_rows(original)
    return np.mean([_wins(o @ normalise_rows(recon[:, s]).T, axis=0) for s in range(recon.shape[1])], axis=0)


def paired_correlation(original: np.ndarray, recon: np.ndarray) -> np.ndarray:
    """Per image: r(orig_i, recon_i,s) averaged over samples."""
    o = normalise_rows(original)
    return sum(np.einsum("nd,nd->n", o, normalise_rows(recon[:, s])) for s in range(recon.shape[1])) / recon.shape[1]


def ssim(a: np.ndarray, b: np.ndarray, size: int = LOW_LEVEL_SIZE) -> float:
    """Mean SSIM of two grayscale images in [0, 1] (Gaussian window, sigma 1.5, as Wang et al. 2004)."""
    a, b = np.asarray(a, np.float64).reshape(size, size), np.asarray(b, np.float64).reshape(size, size)
    c1, c2 = 0.01 ** 2, 0.03 ** 2
    blur = lambda x: ndimage.gaussian_filter(x, 1.5, truncate=3.5)  # noqa: E731
    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a ** 2, blur(b * b) - mu_b ** 2, blur(a * b) - mu_a * mu_b
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


# --- reading reconstructions ---------------------------------------------------------

def read_reconstructions(manifest: str, test_ids) -> np.ndarray:
    """(n_test, n_samples, H, W, 3) uint8 reconstructions listed in a manifest, in test-id order.

    Every test image must have the same number of samples, and all images one size.
    """
    import pandas as pd
    from .errors import InputError

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


def score(originals: np.ndarray, original_features: dict, recon: np.ndarray, recon_features: dict, ids) -> "pd.DataFrame":
    """Tidy per-image scores of one subject and method: protocol, metric, nsd_id, value."""
    import pandas as pd
    rows = []

    def add(protocol, metric, values):
        rows.extend({"protocol": protocol, "metric": metric, "nsd_id": int(i), "value": float(v)} for i, v in zip(ids, values))

    for name, spec in PAPER.items():
        key = feature_key(spec)
        add("paper", name, paper_identification(original_features[key], recon_features[key]))
    for name, spec in COMMUNITY_TWO_WAY.items():
        key = feature_key(spec)
        add("community", name, community_identification(original_features[key], recon_features[key]))
    for name, spec in COMMUNITY_DISTANCE.items():
        key = feature_key(spec)
        add("community", name, 1 - paired_correlation(original_features[key], recon_features[key]))
    low = [low_level_scores(o, list(r)) for o, r in zip(originals, recon)]
    add("community", "PixCorr", [p for p, _ in low])
    add("community", "SSIM", [s for _, s in low])
    return pd.DataFrame(rows)


def extract_samples(recon: np.ndarray, networks: dict, batch_size: int) -> dict[str, np.ndarray]:
    """Features of (n, samples, H, W, 3) reconstructions as (n, samples, d) arrays."""
    n, s = recon.shape[:2]
    flat = extract(recon.reshape(n * s, *recon.shape[2:]), networks, batch_size)
    return {k: v.reshape(n, s, -1) for k, v in flat.items()}


# --- summaries -------------------------------------------------------------------------

COMMUNITY_COLUMNS = ["PixCorr", "SSIM", "Alex2", "Alex5", "Incep", "CLIP", "Eff", "SwAV"]
PUBLISHED = {  # 4-subject averages as published (Alex2 ... CLIP in %)
    "Takagi & Nishimoto 2023 (published)": [0.246, 0.410, 78.9, 85.6, 83.8, 82.1, 0.811, 0.504],
    "MindEye2 (published)": [0.322, 0.431, 96.1, 98.6, 95.4, 93.0, 0.619, 0.344],
}


def summarise(scores: "pd.DataFrame") -> "pd.DataFrame":
    """Mean and sd over images per subject, method, protocol and metric."""
    keys = ["subject", "method", "protocol", "metric"]
    out = scores.groupby(keys, sort=False)["value"].agg(["mean", "std", "count"]).reset_index()
    return out.rename(columns={"std": "sd", "count": "n_images"})


def community_table(summary: "pd.DataFrame", method: str) -> "pd.DataFrame":
    """The published tables' layout: one row per subject, their mean, and the published rows."""
    import pandas as pd
    part = summary[(summary["protocol"] == "community") & (summary["method"] == method)]
    wide = part.pivot(index="subject", columns="metric", values="mean").reindex(columns=COMMUNITY_COLUMNS)
    for col in ("Alex2", "Alex5", "Incep", "CLIP"):
        wide[col] *= 100
    wide.loc["mean"] = wide.mean()
    wide.index = [f"this run: {s} ({method})" if s != "mean" else f"this run: mean ({method})" for s in wide.index]
    published = pd.DataFrame(PUBLISHED, index=COMMUNITY_COLUMNS).T
    return pd.concat([wide, published]).rename_axis("row").reset_index()


def markdown(table: "pd.DataFrame", note: str = "") -> str:
    cols = list(table.columns)
    fmt = lambda v: f"{v:.3f}" if isinstance(v, float) and abs(v) < 1.5 else (f"{v:.1f}" if isinstance(v, float) else str(v))  # noqa: E731
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in table.itertuples(index=False)]
    return "\n".join(lines) + ("\n\n" + note + "\n" if note else "\n")
