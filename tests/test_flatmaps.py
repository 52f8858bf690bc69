"""Flatmaps on pycortex's demo subject S1 (the toy world's space) and the NSD import pieces."""
import numpy as np
import pytest

from sdbrain.errors import ArgumentError, InputError
from sdbrain.maps import flatmaps, pycortex_env
from sdbrain.workflow import job


@pytest.fixture(scope="module")
def cortex(tmp_path_factory):
    return pycortex_env.import_cortex(tmp_path_factory.mktemp("pycortex"))


@pytest.fixture(scope="module")
def mapper(cortex):
    return flatmaps.Flatmapper(cortex, "S1", "fullhead", height=256)


def slab(cortex, ys):
    """A volume with 1 in the voxels of some (Y) rows of S1's functional grid, NaN elsewhere."""
    volume = np.full(cortex.db.get_xfm("S1", "fullhead").shape, np.nan, dtype=np.float32)
    volume[:, ys, :] = 1.0
    return volume


def test_a_volume_lands_where_its_voxels_are(cortex, mapper):
    """Two disjoint slabs of voxels cover different parts of the flatmap, all on the cortex."""
    back, front = mapper.image(slab(cortex, slice(0, 35))), mapper.image(slab(cortex, slice(65, 100)))
    assert back.shape == mapper.background.shape and back.shape[0] == 256
    on_back, on_front = np.isfinite(back), np.isfinite(front)
    assert on_back.mean() > 0.02 and on_front.mean() > 0.02
    assert (on_back & on_front).sum() < 0.05 * min(on_back.sum(), on_front.sum()), "different voxels, different places"
    assert np.isfinite(mapper.background[on_back]).all(), "data only on the cortex"
    empty = mapper.image(np.full(cortex.db.get_xfm("S1", "fullhead").shape, np.nan, np.float32))
    assert not np.isfinite(empty).any(), "NaN voxels are not drawn"


def test_single_and_pair_write_pngs(cortex, mapper, tmp_path):
    volume = slab(cortex, slice(0, 35))
    flatmaps.single(mapper, volume, tmp_path / "one.png", "one", note="toy")
    flatmaps.pair(mapper, [volume, slab(cortex, slice(65, 100))], tmp_path / "two.png", ["a", "b"], "two")
    assert (tmp_path / "one.png").stat().st_size > 10_000 and (tmp_path / "two.png").stat().st_size > 10_000


def test_shared_space_transform_maps_surface_points_through_the_reference_affine(cortex, tmp_path):
    """NSD's func1pt8mm shares the anatomy's scanner space: voxel = inverse(affine) x point."""
    reference = cortex.db.get_xfm("S1", "fullhead").reference
    path = tmp_path / "reference.nii.gz"
    reference.to_filename(str(path))
    pycortex_env.save_shared_space_xfm(cortex, "S1", "shared_test", path)
    coord = np.asarray(cortex.db.get_xfm("S1", "shared_test", xfmtype="coord").xfm)
    assert np.allclose(coord, np.linalg.inv(reference.affine))


def test_freesurfer_import_names_what_is_missing(cortex, tmp_path):
    with pytest.raises(InputError, match="subj01: no FreeSurfer subject"):
        pycortex_env.import_freesurfer_subject(cortex, "subj01", tmp_path, tmp_path / "ref.nii.gz", "func1pt8mm")
    (tmp_path / "subj01" / "surf").mkdir(parents=True)
    (tmp_path / "subj01" / "surf" / "lh.full.flat.patch.3d").write_text("")
    with pytest.raises(InputError, match=r"no full.flat.patch.3d for \['rh'\].*mris_flatten"):
        pycortex_env.import_freesurfer_subject(cortex, "subj01", tmp_path, tmp_path / "ref.nii.gz", "func1pt8mm")


def test_roi_outlines_come_from_the_label_volume(cortex):
    """Label 1 on one slab and 5 on another: two outlines, each where its slab is drawn."""
    labels = np.zeros(cortex.db.get_xfm("S1", "fullhead").shape, dtype=np.int16)
    labels[:, 0:35, :], labels[:, 65:100, :] = 1, 5
    outlined = flatmaps.Flatmapper(cortex, "S1", "fullhead", height=256, outlines=labels, outline_labels=[1, 5])
    assert len(outlined.outlines) == 2
    back = np.isfinite(outlined.image(slab(cortex, slice(0, 35))))
    assert outlined.outlines[0][back].mean() > 0.9 and outlined.outlines[1][back].mean() < 0.05


def test_demo_grid_equals_pycortex_cortical_mask_and_roi_masks(cortex):
    """The toy world's grid, computed with array operations, equals what pycortex's own (looping) functions give
    (recorded for the installed pycortex version: tests/pycortex_reference.py)."""
    import pycortex_reference
    streams = {1: ["V1", "V2", "V3"], 5: ["FFA", "PPA", "OFA", "EBA"], 7: ["IPS"]}
    grid = pycortex_env.demo_grid(cortex, "S1", "fullhead", streams)
    mask, rois = pycortex_reference.load(cortex)
    assert np.array_equal(grid["mask"], mask) and mask.sum() == 47530
    _, nearest = cortex.utils.get_vox_dist("S1", "fullhead")
    ours = pycortex_env.roi_voxels(cortex, "S1", nearest, mask)
    assert set(ours) == set(rois) and all(np.array_equal(ours[name], rois[name]) for name in rois)
    expected = np.zeros(mask.shape, dtype=np.int16)
    for label, names in streams.items():
        for name in names:
            expected[(rois[name] > 0) & (expected == 0) & mask] = label
    assert np.array_equal(grid["streams"], expected) and (expected == 1).sum() == 1678
    # named as the argument here; rule toy_grid names it as config key toy.streams (job.run's keys)
    with pytest.raises(ArgumentError, match="argument 'streams': pycortex subject S1 has no ROI 'V9'") as raised:
        pycortex_env.demo_grid(cortex, "S1", "fullhead", {1: ["V9"]})
    assert job.error_line(raised.value, {}, {"streams": "toy.streams"}) == (
        "ERROR: config key 'toy.streams': pycortex subject S1 has no ROI 'V9'")


def test_subject_mapper_outlines_the_subjects_streams_rois(cortex, tmp_path):
    """The flatmap rules' mapper of an NSD subject: its pycortex subject and transform, outlines from the NSD
    subject's streams volume (as a Flatmapper given that volume)."""
    import nibabel as nib

    from sdbrain.data import nsd
    labels = np.zeros(cortex.db.get_xfm("S1", "fullhead").shape, dtype=np.int16)
    labels[:, 0:35, :] = 1
    path = nsd.Layout(tmp_path).roi("subj01", "streams")
    path.parent.mkdir(parents=True)
    nib.save(nib.Nifti1Image(labels.T, np.eye(4)), path)
    mapper = flatmaps.subject_mapper(tmp_path, tmp_path, "subj01", "S1", "fullhead", 256, [1, 5])
    direct = flatmaps.Flatmapper(cortex, "S1", "fullhead", height=256, outlines=labels, outline_labels=[1, 5])
    assert len(mapper.outlines) == 1 and np.array_equal(mapper.outlines[0], direct.outlines[0])
