"""Quick-look slices: L and R sit on the subject's left and right, whatever way the volume's grid runs."""
import matplotlib.pyplot as plt
import nibabel as nib
import numpy as np
import pytest

from sdbrain.maps import volumes

SHAPE_ZYX = (6, 20, 30)


def grid(codes: str) -> np.ndarray:
    """A 2 mm affine centred on the volume whose voxel axes (X, Y, Z) grow towards ``codes`` (e.g. 'LPS')."""
    axes = {"R": (0, 1), "L": (0, -1), "A": (1, 1), "P": (1, -1), "S": (2, 1), "I": (2, -1)}
    affine = np.eye(4)
    affine[:3, :3] = 0
    for voxel_axis, code in enumerate(codes):
        world_axis, sign = axes[code]
        affine[world_axis, voxel_axis] = 2.0 * sign
    centre = affine[:3, :3] @ (np.array(SHAPE_ZYX[::-1]) - 1) / 2
    affine[:3, 3] = -centre
    assert "".join(nib.aff2axcodes(affine)) == codes
    return affine


def left_hemisphere_blob(affine: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """A volume with one voxel set 15 mm into the subject's left hemisphere (world x = -15, RAS+ mm);
    returns it and the (row, column) of that voxel on its axial slice."""
    x, y, z, _ = np.linalg.inv(affine) @ [-15.0, 0.0, 0.0, 1.0]
    i, j, k = int(round(x)), int(round(y)), int(round(z))
    volume = np.full(SHAPE_ZYX, np.nan, dtype=np.float32)
    volume[k, j, i] = 1.0
    return volume, (j, i)


@pytest.mark.parametrize("codes", ["RAS", "LAS", "LPS", "ARS", "PLS"])
def test_left_label_is_on_the_side_of_the_left_hemisphere(codes):
    affine = grid(codes)
    volume, (row, column) = left_hemisphere_blob(affine)
    z = int(np.nonzero(np.isfinite(volume))[0][0])
    fig = volumes.slices_figure(volume, "blob", affine=affine, n_slices=SHAPE_ZYX[0] - 2)
    fig.canvas.draw()
    ax = next(a for a in fig.axes if a.get_title() == f"z={z}")
    labels = {t.get_text(): t for t in ax.texts}
    assert set(labels) == {"L", "R"}
    blob = ax.transData.transform((column, row))  # where the voxel is drawn, in display pixels
    renderer = fig.canvas.get_renderer()
    centre = {name: t.get_window_extent(renderer).get_points().mean(axis=0) for name, t in labels.items()}
    # left-right runs along the image's columns (X) or rows (Y): the L label is on the blob's side of the
    # slice, R on the other
    along = 0 if volumes.lr_sides(affine)[0] == "x" else 1
    assert abs(centre["L"][along] - blob[along]) < abs(centre["R"][along] - blob[along])
    assert (centre["L"][along] - centre["R"][along]) * (blob[along] - centre["R"][along]) > 0
    plt.close(fig)


def test_sides_of_the_grids_this_workflow_reads():
    # pycortex's S1 grid (the toy world) and NSD's func1pt8mm volumes run from the subject's right: R on the left
    s1 = np.array([[-2.24, 0, 0, 112.0], [0, -2.24, 0, 139.3], [0, 0, 4.13, -24.1], [0, 0, 0, 1]])
    assert volumes.lr_sides(s1) == ("x", ("R", "L"))
    assert volumes.lr_sides(grid("RAS")) == ("x", ("L", "R"))
    assert volumes.lr_sides(grid("ARS")) == ("y", ("L", "R"))
    assert volumes.lr_sides(grid("ASL")) is None  # left-right across slices: no labels


def test_slices_png_writes_labelled_slices(tmp_path):
    affine = grid("LPS")
    volume, _ = left_hemisphere_blob(affine)
    volumes.slices_png([volume, volume], tmp_path / "s.png", ["a", "b"], affine=affine, underlay=np.isfinite(volume))
    assert (tmp_path / "s.png").stat().st_size > 0


def test_colour_limit_keeps_each_former_variant_to_the_bit():
    """volumes.colour_limit replaced five inline 99th percentiles; each call site's value, empty and zero cases
    included, is what its old expression gave."""
    rng = np.random.default_rng(0)
    a = rng.normal(size=(6, 7, 8)).astype(np.float32)
    a[a < -1] = np.nan
    b = rng.normal(size=(6, 7, 8)).astype(np.float32)
    empty, zeros = np.full((3, 3), np.nan, np.float32), np.zeros((3, 3), np.float32)

    def old(v):  # Flatmapper.draw, slices_figure, the viewer's r
        finite = v[np.isfinite(v)]
        return float(np.percentile(finite, 99)) if finite.size else 1.0

    for v in (a, b, empty, zeros):
        assert volumes.colour_limit(v) == old(v)
        finite = v[np.isfinite(v)]  # the viewer's unique variance, around 0
        assert volumes.colour_limit(v, symmetric=True) == (float(np.percentile(np.abs(finite), 99)) if finite.size else 1.0)
    assert volumes.colour_limit(zeros) == 0.0 and volumes.colour_limit(empty) == 1.0
    for pair in ([a, b], [empty, empty], [a, empty]):  # flatmaps.pair
        finite = np.concatenate([v[np.isfinite(v)] for v in pair])
        assert volumes.colour_limit(pair) == (float(np.percentile(finite, 99)) if finite.size else 1.0)
    for rows in ([[a, b]], [[empty, zeros]], [[empty]]):  # flatmaps.figure_style: a zero among the values
        finite = np.concatenate([v[np.isfinite(v)] for row in rows for v in row] + [np.zeros(1)])
        expected = float(np.percentile(finite, 99)) or 1.0
        assert (volumes.colour_limit([v for row in rows for v in row] + [np.zeros(1)]) or 1.0) == expected
    sig = np.isfinite(a).ravel() & (b.ravel() > 0)  # unique_slices_png: significant voxels of two maps
    u, w = np.nan_to_num(a.ravel()), b.ravel()
    assert volumes.colour_limit([u[sig], w[sig]]) == float(np.percentile(np.concatenate([u[sig], w[sig]]), 99))
    assert volumes.colour_limit([u[sig & False], w[sig & False]]) == 1.0
