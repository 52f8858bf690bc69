"""The encoding models' per-ROI summaries and noise-ceiling ratio (sdbrain.linear.encode), and the encoding
figures' colour styles (sdbrain.maps.flatmaps)."""
import numpy as np
import pandas as pd
import pytest

from sdbrain.linear import encode
from sdbrain.maps import flatmaps

# voxels 0-4 of a flattened label volume: unlabelled, early, early, ventral, and label 9 (no stream)
STREAMS = np.array([0, 1, 1, 5, 9])


def test_over_noise_ceiling():
    ratio = encode.over_noise_ceiling(np.array([0.5, -0.2, 0.3, np.nan]), np.array([0.5, 0.5, 0.0, 0.5]))
    np.testing.assert_allclose(ratio, [0.5, 0.0, np.nan, 0.0])  # negative or missing r explains nothing


def test_with_roi_names_streams_labels():
    table = encode.with_roi(pd.DataFrame({"voxel": [4, 1, 0, 3]}), STREAMS)
    assert table["roi"].tolist() == ["9", "early", "unlabelled", "ventral"]


def test_roi_summary():
    table = encode.with_roi(pd.DataFrame({"voxel": [1, 2, 3], "r": [0.2, 0.4, 0.1], "significant": [1, 0, 1],
                                          "noise_ceiling": [0.5, 0.7, 0.2], "r2_over_nc": [0.1, 0.3, 0.05]}), STREAMS)
    summary = encode.roi_summary("subj01", {"z": table, "c": table.iloc[:1]})
    assert summary.columns.tolist() == ["subject", "space", "roi", "voxels", "mean_r", "significant_fraction",
                                        "mean_noise_ceiling", "mean_r2_over_nc"]
    assert summary[["space", "roi", "voxels"]].values.tolist() == [["z", "early", 2], ["z", "ventral", 1],
                                                                   ["c", "early", 1]]
    np.testing.assert_allclose(summary["mean_r"], [0.3, 0.1, 0.2])
    np.testing.assert_allclose(summary["significant_fraction"], [0.5, 1.0, 1.0])
    np.testing.assert_allclose(summary["mean_noise_ceiling"], [0.6, 0.2, 0.5])


def test_unique_summary_averages_over_significant_voxels_only():
    table = encode.with_roi(pd.DataFrame({"voxel": [1, 2, 3], "r": [0.3, 0.1, 0.2], "significant": [1, 0, 0],
                                          "unique_z": [0.02, 0.5, 0.1], "unique_zc0.5": [0.04, 0.5, 0.1]}), STREAMS)
    summary = encode.unique_summary("subj01", {"zc0.5": table})
    assert summary.to_dict("records")[0] == {"subject": "subj01", "joint": "z+zc0.5", "roi": "early",
                                             "significant_voxels": 1, "mean_r_joint": pytest.approx(0.2),
                                             "unique_z": 0.02, "unique_other": 0.04}
    assert summary["significant_voxels"].tolist() == [1, 0]
    assert np.isnan(summary["unique_z"].iloc[1])


def test_layer_summary_shares_every_layer():
    table = encode.with_roi(pd.DataFrame({"voxel": [0, 1, 2, 3], "best_layer": [0, 1, 2, 2],
                                          "layer": ["", "down1", "mid", "mid"]}), STREAMS)
    summary = encode.layer_summary("subj01", {"unet0.5-early": table}, ["down1", "mid", "up1"])
    assert summary.columns.tolist() == ["subject", "step", "roi", "significant_voxels", "share_down1", "share_mid",
                                        "share_up1"]
    assert summary.values.tolist() == [["subj01", "unet0.5-early", "early", 2, 0.5, 0.5, 0.0],
                                       ["subj01", "unet0.5-early", "ventral", 1, 0.0, 1.0, 0.0]]
    assert encode.layer_summary("subj01", {}, ["mid"]).columns.tolist()[-1] == "share_mid"


def test_figure_style_one_scale_for_the_whole_figure():
    volumes = [[np.full((2, 2), np.nan), np.arange(101, dtype=np.float32).reshape(1, -1)]]
    style, label, legend = flatmaps.figure_style({"cmap": "hot", "vmin": 0.0, "vmax": None, "label": "r"}, volumes)
    assert label == "r" and legend is None
    assert style["cmap"] == "hot" and style["vmin"] == 0.0
    assert style["vmax"] == pytest.approx(np.percentile(np.r_[np.arange(101), 0.0], 99))
    # all-empty maps still get a scale; a fixed vmax is kept
    assert flatmaps.figure_style({"vmax": None}, [[np.full(3, np.nan)]])[0]["vmax"] == 1.0
    assert flatmaps.figure_style({"vmax": 0.3, "label": "x"}, volumes) == ({"vmax": 0.3}, "x", None)


def test_figure_style_categories_one_colour_each():
    style, label, legend = flatmaps.figure_style({"categories": ["down1", "mid", "up1"]}, [[np.ones(3)]])
    assert (style["vmin"], style["vmax"], label) == (0.5, 3.5, "")
    assert list(legend) == ["down1", "mid", "up1"]
    assert list(legend.values()) == list(style["cmap"].colors) and len(set(legend.values())) == 3
