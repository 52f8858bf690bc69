"""An interactive pycortex WebGL viewer of a subject's encoding maps, as a static folder.

``cortex.webgl.make_static`` writes an ``index.html`` (its JavaScript embedded), the
subject's surfaces (CTM) and one PNG per map; a browser samples the volumes onto the
surfaces itself, so every map is a layer one picks from the viewer's data list. The
surfaces are built once per pycortex subject into its filestore cache (about 35 s for
S1 on one core) and copied from there afterwards; a lock on the filestore keeps two
jobs of one pycortex subject from building that cache at the same time. Browsers
refuse the viewer's data from ``file://`` pages: it is opened through a web server.
"""
from __future__ import annotations

import shutil
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from sdbrain.data.io import atomic_dir
from sdbrain.data.nsd import read_volume
from sdbrain.errors import InputError
from sdbrain.maps import pycortex_env
from sdbrain.maps.volumes import colour_limit

# pycortex colormaps (its own PNG files): r from zero, signed unique variance around zero, and the U-Net layer
# as labels 1..n on Set1's first n of 9 colours
CMAPS = {"r": "hot", "unique": "RdBu_r", "layer": "Set1"}
SET1_COLOURS = 9


@dataclass
class Layer:
    """One map of the viewer: its name in the data list, its NIfTI, and how it is shown."""

    name: str
    values: str | Path
    kind: str  # "r", "unique" or "layer" (labels 1..n, 0 = none)
    mask: str | Path | None = None  # voxels outside this (FDR) mask are not shown
    description: str = ""

    def volume(self) -> np.ndarray:
        """Read the (Z, Y, X) map with voxels not shown set to NaN."""
        values = read_volume(self.values).astype(np.float32)
        if self.mask is not None:
            mask = read_volume(self.mask)
            if mask.shape != values.shape:
                raise InputError(f"{self.mask}: mask of shape {mask.shape}, but {self.values} has {values.shape}")
            values = np.where(mask > 0, values, np.nan)
        if self.kind == "layer":
            values = np.where(values > 0, values, np.nan)
        return values


def colour_range(kind: str, volume: np.ndarray, n_layers: int = 0) -> tuple[float, float]:
    """Return the colour scale (low, high) of a layer.

    0 to the 99th percentile of r, symmetric around 0 for unique variance, and label k on Set1's k-th
    colour for the U-Net layer.
    """
    if kind == "layer":
        if n_layers > SET1_COLOURS:
            raise InputError(f"the viewer shows at most {SET1_COLOURS} U-Net layers, got {n_layers}")
        return 0.5, SET1_COLOURS + 0.5
    if kind == "unique":
        top = colour_limit(volume, symmetric=True)
        return -max(top, 1e-6), max(top, 1e-6)
    return 0.0, max(colour_limit(volume), 1e-6)


@contextmanager
def without_leap_motion(cortex):
    """Render pycortex's static viewer page without its Leap Motion controller script.

    pycortex 1.4.0's make_static always includes its Leap Motion controller script (``leapmotion=True`` is
    fixed in its call to the page template), which tries a WebSocket to ws://127.0.0.1:6437 and logs an error
    in every browser without that device: render the page template with ``leapmotion=False`` instead.
    """
    import cortex.webgl.view as view  # the module whose make_static renders the page (loaded lazily by pycortex)

    loader_class = view.FallbackLoader

    class Loader(loader_class):
        def load(self, *args, **kwargs):
            template = super().load(*args, **kwargs)
            generate = type(template).generate.__get__(template)
            # make_static calls generate on the page template only (its parents are compiled into it)
            template.generate = lambda **values: generate(**{**values, "leapmotion": False})
            return template

    view.FallbackLoader = Loader
    try:
        yield
    finally:
        view.FallbackLoader = loader_class


def build(cortex, subject: str, xfm: str, layers: list[Layer], outdir: str | Path, title: str,
          n_layers: int = 0) -> pd.DataFrame:
    """Write the static viewer of ``layers`` into ``outdir``.

    The maps are shown on pycortex subject ``subject`` through transform ``xfm``. Returns one row per layer:
    name, file, colormap, range, voxels shown.
    """
    if not layers:
        raise InputError("the viewer needs at least one map")
    names = [layer.name for layer in layers]
    if len(set(names)) != len(names):
        raise InputError(f"viewer layer names repeat: {names}")
    shape = tuple(cortex.db.get_xfm(subject, xfm).shape)
    views, rows = {}, []
    for layer in layers:
        volume = layer.volume()
        if volume.shape != shape:
            raise InputError(f"{layer.values}: volume of shape {volume.shape}, but pycortex subject {subject}'s "
                             f"transform '{xfm}' expects {shape}")
        vmin, vmax = colour_range(layer.kind, volume, n_layers)
        views[layer.name] = cortex.Volume(volume, subject, xfm, cmap=CMAPS[layer.kind], vmin=vmin, vmax=vmax,
                                          description=layer.description)
        rows.append({"layer": layer.name, "file": str(layer.values), "mask": str(layer.mask or ""),
                     "cmap": CMAPS[layer.kind], "vmin": vmin, "vmax": vmax,
                     "voxels_shown": int(np.isfinite(volume).sum())})
    with atomic_dir(outdir) as partial:  # written whole, then renamed into place
        with pycortex_env.filestore_lock(cortex, subject), without_leap_motion(cortex):
            cortex.webgl.make_static(str(partial), views, title=title, types=("inflated",),
                                     overlays_visible=("rois",), labels_visible=("rois",))
        # the icon browsers ask every site for (pycortex's own), so that the served folder answers it
        shutil.copyfile(Path(cortex.webgl.__file__).parent / "favicon.ico", partial / "favicon.ico")
    return pd.DataFrame(rows)
