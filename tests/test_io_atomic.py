"""Atomic outputs: a folder or file appears whole or not at all, and a killed attempt's leftovers never reach it."""
import numpy as np
import pytest

from sdbrain.data.io import atomic_dir, atomic_file, read_ids, save_array, write_ids
from sdbrain.errors import InputError


def test_atomic_dir_clears_a_stale_tmp_folder_and_replaces_the_output(tmp_path):
    out = tmp_path / "chunk0"
    (tmp_path / "chunk0.tmp").mkdir()
    (tmp_path / "chunk0.tmp" / "5_3.png").write_text("left by a killed attempt")
    out.mkdir()
    (out / "old.png").write_text("a former output")
    with atomic_dir(out) as tmp:
        assert tmp == tmp_path / "chunk0.tmp" and list(tmp.iterdir()) == []
        (tmp / "5_0.png").write_text("new")
    assert [f.name for f in out.iterdir()] == ["5_0.png"] and not (tmp_path / "chunk0.tmp").exists()


def test_atomic_dir_and_file_leave_nothing_on_failure(tmp_path):
    with pytest.raises(RuntimeError), atomic_dir(tmp_path / "folder") as tmp:
        (tmp / "part.png").write_text("half")
        raise RuntimeError("killed")
    with pytest.raises(RuntimeError), atomic_file(tmp_path / "table.tsv") as tmp:
        tmp.write_text("half")
        raise RuntimeError("killed")
    assert list(tmp_path.iterdir()) == []


def test_writers_go_through_a_temporary_name(tmp_path):
    write_ids(tmp_path / "ids.tsv", [3, 1])
    save_array(tmp_path / "x.npy", np.ones((2, 2)))
    assert read_ids(tmp_path / "ids.tsv").tolist() == [3, 1] and np.load(tmp_path / "x.npy").dtype == np.float32
    assert sorted(f.name for f in tmp_path.iterdir()) == ["ids.tsv", "x.npy"]
    with pytest.raises(InputError, match="could not be written"):
        save_array(tmp_path / "missing" / "x.npy", np.ones(2))
    assert not (tmp_path / "missing").exists()
