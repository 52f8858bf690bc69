"""Shared fixtures: a tiny synthetic grid and a toy NSD tree written in the real layout."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

# Under pytest-xdist the workers share the cores: each computes with one thread (set before
# numpy and torch start their pools). Two threads per worker oversubscribe them, and
# waiting threads spin: the NSD-size ridge fit beside two busy processes took 141 s and
# 138 s of CPU with two threads, 116 s and 78 s with one. Snakemake still sets each job's
# threads itself.
if int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "1")) > 1:
    os.environ.setdefault("OMP_NUM_THREADS", "1")

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "workflow"))

from sdbrain.data import ingest, nsd  # noqa: E402
from sdbrain.toy import world  # noqa: E402

SMALL = dict(seed=3, n_subjects=2, n_sessions=3, trials_per_session=40, n_shared=10, shared_repeats=3,
             train_repeats=2, image_size=32, noise_sd=1.0, amplitude=1.0, mixed_amplitude=0.5)
ROIS = {"early": ingest.RoiLabels("streams", (1,)), "ventral": ingest.RoiLabels("streams", (5,)),
        "brain": ingest.RoiLabels("brainmask", (1,))}


def small_grid() -> dict:
    """An ellipsoidal 'brain' on a (8, 12, 14) grid: early ROI at the back, ventral below, one lateral label."""
    z, y, x = np.meshgrid(np.arange(8), np.arange(12), np.arange(14), indexing="ij")
    mask = ((z - 3.5) / 4) ** 2 + ((y - 5.5) / 6) ** 2 + ((x - 6.5) / 7) ** 2 < 1
    streams = np.zeros(mask.shape, dtype=np.int16)
    streams[mask & (y < 4)] = 1
    streams[mask & (y >= 4) & (z < 2)] = 5
    streams[mask & (y >= 8) & (z > 5)] = 6
    return {"mask": mask, "streams": streams, "affine": np.diag([1.8, 1.8, 1.8, 1.0])}


def write_tree(root: Path, **overrides) -> nsd.Layout:
    params = {**SMALL, **overrides}
    world.write_toy_nsd(root / "nsd", root / "truth", small_grid(), params)
    return nsd.Layout(root / "nsd")


@pytest.fixture(scope="session")
def toy_tree(tmp_path_factory) -> nsd.Layout:
    """A read-only toy NSD (do not modify: copy it with ``copy_tree``)."""
    return write_tree(tmp_path_factory.mktemp("toy"))


@pytest.fixture
def copy_tree(toy_tree, tmp_path):
    """A private copy of the toy NSD that a test may damage."""
    shutil.copytree(toy_tree.root.parent, tmp_path / "copy")
    return nsd.Layout(tmp_path / "copy" / "nsd")


@pytest.fixture(scope="session")
def pipe(tmp_path_factory):
    """The toy config's random SD-structured pipeline, with a tokenizer of a few caption words."""
    from sdbrain.sd import pipeline
    from sdbrain.toy import model as toy_model
    out = tmp_path_factory.mktemp("sd") / "model"
    model = yaml.safe_load((ROOT / "config/config.yaml").read_text())["toy"]["model"]
    toy_model.build_random_pipeline(out, ["a", "red", "blue", "circle", "star"], model)
    return pipeline.load_pipeline(out)


def write_nsd_config(path: Path, nsd_root: Path, model_dir: Path, subjects=("subj01", "subj02"), sessions=(1, 2, 3)) -> Path:
    """config/nsd.yaml with the keys a user edits pointed at a toy tree."""
    config = yaml.safe_load((ROOT / "config/nsd.yaml").read_text())
    config.update(nsd_root=str(nsd_root), model_dir=str(model_dir), subjects=list(subjects), sessions=list(sessions))
    config["text"]["captioner_dir"] = str(model_dir)  # a folder that exists (no job reads it in these tests)
    config["gan"].update(encoder_dir=str(model_dir), generator_dir=str(model_dir))  # the same
    path.write_text(yaml.safe_dump(config))
    return path


# For the tiny toy run, whose jobs are mostly Python start-up and small arrays: two at a
# time on the 2 cores, each with one thread and the gpu token doubled (8.6 -> 5.1 min
# here). Snakemake sets OMP_NUM_THREADS to a job's threads, which can change float
# rounding, so the MINI runs that are compared bit for bit with the SLURM run keep the
# default profile's threads.
TWO_AT_A_TIME = ("--max-threads", "1", "--resources", "gpu=2")


def snakemake(*args, cwd: Path, timeout: int = 1800) -> subprocess.CompletedProcess:
    """Run the workflow's Snakefile with the test's working directory."""
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(cwd),
           "--workflow-profile", str(ROOT / "profiles/default"), *args]
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, cwd=cwd)


# The whole-workflow tests take most of the suite's time: they go first, so that the two
# workers (pytest-xdist, one file per worker at a time) do not end with one of them alone.
# The first worker gets the interrupted and SLURM runs (side by side), then the ridge tests;
# the second the tiny run.
SLOW_FIRST = ("test_reliability.py", "test_workflow.py", "test_ridge_nsd_size.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOW_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(SLOW_FIRST)))
