"""Encoding maps on cortical flatmaps (pycortex), headless.

pycortex samples a functional volume onto the subject's flattened surface
(``make_flatmap_image``); we draw that image with matplotlib over the surface's
curvature, so the same code makes single maps and the paper's multi-panel figures,
with any colormap (a categorical one for U-Net layers). ROI outlines are contours of
the subject's own label volume (NSD's streams) on the same flat image, so they need
no Inkscape (pycortex's SVG overlays do). pycortex caches its pixel maps in the
filestore the first time: ``prepare`` builds them once per subject so that parallel
jobs only read them.
"""
from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from sdbrain.data.nsd import Layout, read_volume  # noqa: E402
from sdbrain.maps import pycortex_env  # noqa: E402
from sdbrain.maps.volumes import categorical, colour_limit  # noqa: E402,F401  (categorical: labels 1..n, ROIs, U-Net layers)

HEIGHT = 1024  # pixels of the flatmap image (pycortex caches one pixel map per height)


def masked(values_path, mask_path) -> np.ndarray:
    """Read a map with voxels outside its FDR mask set to NaN (not drawn)."""
    values = read_volume(values_path).astype(np.float32)
    return np.where(read_volume(mask_path) > 0, values, np.nan)


class Flatmapper:
    """Flat images of (Z, Y, X) volumes of one pycortex subject and transform."""

    def __init__(self, cortex, subject: str, xfm: str, height: int = HEIGHT, outlines: np.ndarray | None = None,
                 outline_labels=()):
        self.cortex, self.subject, self.xfm, self.height = cortex, subject, xfm, height
        # pycortex builds its flat caches (the flat mask, the surface's and this transform's pixel maps) on first
        # use and writes them in place: build them all here, under the subject's lock, so that two jobs on one
        # subject (the toy world's share S1) never read a half-written one
        with pycortex_env.filestore_lock(cortex, subject):
            curvature, self.extent = cortex.quickflat.make_flatmap_image(cortex.db.get_surfinfo(subject), height=height)
            self.image(np.full(cortex.db.get_xfm(subject, xfm).shape, np.nan, dtype=np.float32))
        # sulci darker than gyri, outside the cortex transparent
        self.background = np.where(np.isnan(curvature), np.nan, np.where(curvature > 0, 0.35, 0.55))
        # outlines of the ``outline_labels`` of a label volume (e.g. NSD streams early = 1, ventral = 5)
        self.outlines = []
        if outlines is not None:
            # pixels average their samples through the cortical depth: pixels of one label keep its value
            flat = self.image(np.where(outlines > 0, outlines, np.nan).astype(np.float32))
            self.outlines = [np.isclose(flat, label).astype(float) for label in outline_labels
                             if np.isclose(flat, label).any()]

    def image(self, volume_zyx: np.ndarray) -> np.ndarray:
        """Return the flat image of a volume; NaN voxels (not shown) stay NaN."""
        data = np.asarray(volume_zyx, dtype=np.float32)
        image, _ = self.cortex.quickflat.make_flatmap_image(
            self.cortex.Volume(data, self.subject, self.xfm), height=self.height)
        return image

    def draw(self, ax, volume_zyx: np.ndarray, cmap="hot", vmin=0.0, vmax=None, title: str = "",
             interpolation="nearest"):
        """Draw a volume on ``ax`` over the curvature; returns the image artist (for a colorbar)."""
        image = self.image(volume_zyx)
        if vmax is None:
            vmax = colour_limit(image)
        ax.imshow(self.background, cmap="gray", vmin=0, vmax=1, extent=self.extent, interpolation="nearest")
        artist = ax.imshow(image, cmap=cmap, vmin=vmin, vmax=max(vmax, vmin + 1e-6), extent=self.extent,
                           interpolation=interpolation)
        for mask in self.outlines:
            ax.contour(mask, levels=[0.5], colors="white", linewidths=0.5, extent=self.extent, origin="upper")
        ax.set_title(title, fontsize=8)
        ax.axis("off")
        return artist


def streams_mappers(pycortex_dir, nsd_root, cx_subjects: dict[str, str], xfm: str, height: int,
                    outline_labels) -> dict[str, Flatmapper]:
    """Build one Flatmapper per NSD subject, outlining the ``outline_labels`` of the subject's streams ROIs.

    ``cx_subjects``: subject -> its pycortex subject; pycortex's filestore is under ``pycortex_dir``.
    """
    cortex = pycortex_env.import_cortex(pycortex_dir, subjects=tuple(sorted(set(cx_subjects.values()))))
    layout = Layout(nsd_root)
    return {subject: Flatmapper(cortex, cx, xfm, height, outlines=read_volume(layout.roi(subject, "streams")),
                                outline_labels=outline_labels)
            for subject, cx in cx_subjects.items()}


def subject_mapper(pycortex_dir, nsd_root, subject: str, cx_subject: str, xfm: str, height: int,
                   outline_labels) -> Flatmapper:
    """Make the Flatmapper of one NSD subject (``streams_mappers`` for it alone)."""
    return streams_mappers(pycortex_dir, nsd_root, {subject: cx_subject}, xfm, height, outline_labels)[subject]


def prepare(cortex, subject: str, xfm: str, height: int = HEIGHT) -> None:
    """Build pycortex's flatmap caches (curvature and volume pixel maps) of a subject once."""
    mapper = Flatmapper(cortex, subject, xfm, height)
    mapper.image(np.zeros(cortex.db.get_xfm(subject, xfm).shape, dtype=np.float32))


def single(mapper: Flatmapper, volume_zyx, path, title: str, cmap="hot", vmin=0.0, vmax=None, label: str = "",
           note: str = "", ticks=None, ticklabels=None) -> None:
    """One map as a PNG with its colorbar."""
    fig, ax = plt.subplots(figsize=(9, 5), facecolor="white")
    artist = mapper.draw(ax, volume_zyx, cmap, vmin, vmax)
    bar = fig.colorbar(artist, ax=ax, shrink=0.6, label=label)
    if ticks is not None:
        bar.set_ticks(ticks)
        bar.set_ticklabels(ticklabels)
    fig.suptitle(title, fontsize=10)
    if note:
        fig.text(0.5, 0.01, note, ha="center", fontsize=7, color="firebrick")
    fig.savefig(path, dpi=100)
    plt.close(fig)


def pair(mapper: Flatmapper, volumes, path, titles, title: str, cmap="hot", label: str = "unique variance (r^2)",
         note: str = "") -> None:
    """Two maps side by side on one colour scale (e.g. the unique variance of z and of z_c)."""
    vmax = colour_limit(list(volumes))
    fig, axes = plt.subplots(1, 2, figsize=(15, 4.6), facecolor="white")
    for ax, volume, panel_title in zip(axes, volumes, titles):
        artist = mapper.draw(ax, volume, cmap, 0.0, vmax, panel_title)
    fig.colorbar(artist, ax=list(axes), shrink=0.6, label=label)
    fig.suptitle(title, fontsize=10)
    if note:
        fig.text(0.5, 0.01, note, ha="center", fontsize=7, color="firebrick")
    fig.savefig(path, dpi=100)
    plt.close(fig)



# --- the encoding figures (Figs. 6-9; layouts: sdbrain.workflow.plan) ---


def panel_volume(map_path, mask_path=None, zero_is_empty: bool = False) -> np.ndarray:
    """Read a panel's map (z, y, x), blank (NaN) outside its FDR mask where one is given.

    It is also blank where it is 0 when 0 means empty (best-layer maps: no significant layer).
    """
    values = read_volume(map_path).astype(np.float32)
    if mask_path:
        values = np.where(read_volume(mask_path) > 0, values, np.nan)
    if zero_is_empty:
        values[values == 0] = np.nan
    return values


def figure_style(style: dict, volumes: list[list[np.ndarray]]) -> tuple[dict, str, dict | None]:
    """Make a figure's style (sdbrain.workflow.plan.Figure.style) concrete for its panels' ``volumes``.

    Returns the panels' colour keywords, the colour bar's label and the legend (name -> colour; None
    without categories). Categories get one colour each (labels 1..n); a scale without vmax is one for
    the whole figure.
    """
    style = dict(style)
    legend = None
    if style.get("categories"):
        names = style.pop("categories")
        colours = categorical(len(names))
        style.update(cmap=colours, vmin=0.5, vmax=len(names) + 0.5)
        legend = dict(zip(names, colours.colors))
    elif style.get("vmax") is None:
        # a zero among the values: the scale is never empty, and one that ends at 0 becomes 0 to 1
        style["vmax"] = colour_limit([v for row in volumes for v in row] + [np.zeros(1)]) or 1.0
    return style, style.pop("label", ""), legend
