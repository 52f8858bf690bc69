"""The static pycortex WebGL viewer on S1 (the toy world's space): built from a few maps by the package,
served over http and opened in a real headless Chromium, which must draw the surface without console errors."""
import functools
import http.server
import shutil
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from browser import MISSING, chromium
from sdbrain.errors import InputError
from sdbrain.maps import pycortex_env, viewer, volumes

SCREENSHOT_COPY = Path("/tmp/viewer_screenshot.png")


@pytest.fixture(scope="module")
def cortex(tmp_path_factory):
    return pycortex_env.import_cortex(tmp_path_factory.mktemp("pycortex"))


@pytest.fixture(scope="module")
def layers(cortex, tmp_path_factory):
    """An r map with its FDR mask, a signed unique-variance map and a best-layer map, as NIfTIs on S1's grid."""
    root = tmp_path_factory.mktemp("maps")
    xfm = cortex.db.get_xfm("S1", "fullhead")
    shape, affine = xfm.shape, xfm.reference.affine
    z, y, x = np.indices(shape)
    r = (y / shape[1]).astype(np.float32)  # rises from back to front
    unique = np.where(x < shape[2] / 2, -0.2, 0.3).astype(np.float32)
    best = (1 + (y * 5) // shape[1]).astype(np.float32)
    for name, volume in {"r": r, "fdr": (y > shape[1] / 3).astype(np.float32), "unique": unique,
                         "best": best}.items():
        volumes.save_nifti(volume, affine, root / f"{name}.nii.gz")
    return [viewer.Layer("r zc0.5", root / "r.nii.gz", "r", mask=root / "fdr.nii.gz"),
            viewer.Layer("unique zc0.5 (z+zc0.5)", root / "unique.nii.gz", "unique"),
            viewer.Layer("best layer unet0.5-late", root / "best.nii.gz", "layer")]


@pytest.fixture(scope="module")
def built(cortex, layers, tmp_path_factory):
    out = tmp_path_factory.mktemp("viewer") / "S1"
    start = time.perf_counter()
    table = viewer.build(cortex, "S1", "fullhead", layers, out, "S1: encoding maps", n_layers=5)
    return out, table, time.perf_counter() - start


def test_viewer_folder_and_layer_table(built, layers):
    out, table, seconds = built
    assert (out / "index.html").stat().st_size > 100_000  # pycortex's JavaScript is embedded
    assert len(list((out / "data").glob("*.png"))) == len(layers)  # one image per map
    assert list(out.glob("*.ctm")), "the surfaces travel with the viewer"
    assert not list(out.parent.glob("*.tmp")), "the partial folder was renamed into place"
    assert list(table["layer"]) == [layer.name for layer in layers]
    rows = table.set_index("layer")
    assert rows.at["r zc0.5", "vmin"] == 0 and 0.9 < rows.at["r zc0.5", "vmax"] <= 1.0
    assert rows.at["unique zc0.5 (z+zc0.5)", "vmin"] == -rows.at["unique zc0.5 (z+zc0.5)", "vmax"]
    assert (rows.at["best layer unet0.5-late", "vmin"], rows.at["best layer unet0.5-late", "vmax"]) == (0.5, 9.5)
    # the FDR mask hides voxels: the masked map shows fewer than the unmasked ones
    assert rows.at["r zc0.5", "voxels_shown"] < rows.at["unique zc0.5 (z+zc0.5)", "voxels_shown"]
    print(f"viewer of {len(layers)} maps built in {seconds:.1f} s")


def test_a_map_on_another_grid_is_refused(cortex, tmp_path):
    volumes.save_nifti(np.zeros((4, 5, 6), np.float32), np.eye(4), tmp_path / "small.nii.gz")
    with pytest.raises(InputError, match=r"small\.nii\.gz: volume of shape \(4, 5, 6\)"):
        viewer.build(cortex, "S1", "fullhead", [viewer.Layer("small", tmp_path / "small.nii.gz", "r")],
                     tmp_path / "out", "t")
    assert not (tmp_path / "out").exists()


class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(built):
    """The viewer folder over http on 127.0.0.1 (browsers refuse its data from file:// pages)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(built[0])))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/index.html"
    server.shutdown()
    server.server_close()


READY = ("return typeof viewer !== 'undefined' && viewer.loaded.state() === 'resolved' && viewer.active !== null"
         " && viewer.active.loaded.state() === 'resolved'")


@pytest.mark.skipif(bool(MISSING), reason=MISSING)
def ready(driver) -> bool:
    """Whether the viewer has loaded; not yet while its page is too busy loading to answer a script (under load the
    check itself can outlast WebDriver's 30 s script timeout)."""
    from selenium.common.exceptions import TimeoutException
    try:
        return bool(driver.execute_script(READY))
    except TimeoutException:
        return False


def test_chromium_draws_the_surface_without_console_errors(served, layers, tmp_path):
    driver = chromium(window="1000,800", console_log=True)
    try:
        driver.get(served)
        deadline = time.monotonic() + 240  # S1's surfaces take about 30 s to load with software WebGL on 2 cores
        while not ready(driver):
            assert time.monotonic() < deadline, "the viewer did not finish loading in 240 s"
            time.sleep(2)
        time.sleep(3)  # a few frames after the data arrived
        names = driver.execute_script("return Object.keys(viewer.dataviews)")
        assert sorted(names) == sorted(layer.name for layer in layers)
        errors = [entry for entry in driver.get_log("browser") if entry["level"] == "SEVERE"]
        assert not errors, "\n".join(e["message"] for e in errors)
        shot = tmp_path / "viewer.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    shutil.copyfile(shot, SCREENSHOT_COPY)
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    background = pixels[0]  # a corner: the page behind the canvas
    drawn = np.abs(pixels - background).sum(axis=1) > 30
    assert drawn.mean() > 0.05, f"only {drawn.mean():.1%} of the screenshot differs from the background"
    # the surface is drawn in many shades (curvature, the map's colours), not one flat colour
    assert len(np.unique(pixels[drawn] // 16, axis=0)) > 50
