"""pycortex's own cortical mask and ROI masks of its demo subject S1 (transform fullhead), the
reference of the toy grid's test (tests/test_flatmaps.py).

pycortex computes them with Python loops in about 100 s on 2 cores, so they are recorded in
tests/data/pycortex_S1_fullhead.npz with the pycortex version that made them; where another
version is installed they are computed again. To record them again (after a pycortex upgrade):

    python tests/pycortex_reference.py
"""
from __future__ import annotations

import sys
import tempfile
import warnings
from importlib.metadata import version
from pathlib import Path

import numpy as np

FILE = Path(__file__).parent / "data" / "pycortex_S1_fullhead.npz"


def compute(cortex) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``cortex.db.get_mask`` ("cortical") and ``cortex.utils.get_roi_masks`` (every ROI, unsplit, unthresholded)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        mask = cortex.db.get_mask("S1", "fullhead", "cortical")
        rois = cortex.utils.get_roi_masks("S1", "fullhead", gm_sampler="cortical", split_lr=False, threshold=None,
                                          return_dict=True)
    return mask, rois


def load(cortex) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """The recorded masks if the installed pycortex made them, else computed now."""
    if FILE.exists():
        with np.load(FILE) as saved:
            if str(saved["pycortex"]) == version("pycortex"):
                rois = {key[len("roi/"):]: saved[key] for key in saved.files if key.startswith("roi/")}
                return saved["mask"], rois
    return compute(cortex)


def record(workdir: Path) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "workflow"))
    from sdbrain.maps import pycortex_env
    mask, rois = compute(pycortex_env.import_cortex(workdir))
    FILE.parent.mkdir(exist_ok=True)
    np.savez_compressed(FILE, pycortex=np.array(version("pycortex")), mask=mask,
                        **{f"roi/{name}": roi for name, roi in rois.items()})
    print(f"{FILE}: mask and {len(rois)} ROIs of pycortex {version('pycortex')}")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        record(Path(tmp))
