"""Interrupted runs resume to the same results, and clean runs are deterministic.

Each run is the reduced toy workflow MINI (40 jobs through every stage). The
reference is one clean run; the manifests compare every array, volume and table. The
killed-and-resumed run recomputes every output, so its equality with the reference is
also the determinism check of two clean runs (tests/test_slurm.py makes a third).
"""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import yaml

from configs import MINI
from conftest import ROOT, snakemake
from manifest import differences, manifest


def snakemake_cmd(work: Path, *targets: str) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
            "--workflow-profile", str(ROOT / "profiles/default"), *targets, "--configfile", "mini.yaml"]


def mini_dir(tmp_path_factory, name: str) -> Path:
    work = tmp_path_factory.mktemp(name)
    (work / "mini.yaml").write_text(yaml.safe_dump(MINI))
    return work


def kill_when(work: Path, pattern: str, after: float, timeout: float = 600) -> bool:
    """Start the workflow; SIGKILL its whole process group ``after`` seconds after a file
    matching ``pattern`` appears (a rule's log: the rule is running). False if it never did."""
    proc = subprocess.Popen(snakemake_cmd(work), cwd=work, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + timeout
    try:
        while time.time() < deadline and proc.poll() is None:
            if any(work.glob(pattern)):
                time.sleep(after)
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
                return True
            time.sleep(0.2)
        return False
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def test_killed_three_times_then_resumed_equals_clean_run(mini_reference, tmp_path_factory):
    """SIGKILL to the Snakemake process group while features, reconstruction and an encoding
    model are being computed; then the README's resume command finishes the run.

    Every output of this run is computed in its own directory, so its equality with the
    reference is also the check that two clean runs give the same arrays, volumes and tables
    (a separate second clean run would repeat it at the cost of a whole run)."""
    work = mini_dir(tmp_path_factory, "killed")
    for i, pattern in enumerate(("logs/features/z_chunk*.log", "logs/reconstruct/subj01_zc0.5_chunk*.log",
                                 "logs/encode/subj01_c.log")):
        if i:  # the README: after a crash, `snakemake --unlock`, then the same command again
            unlock = snakemake("--configfile", "mini.yaml", "--unlock", cwd=work)
            assert unlock.returncode == 0, unlock.stderr[-2000:]
        assert kill_when(work, pattern, after=1.0), f"the run ended before {pattern} appeared"
    assert not (work / "results/report/logs.txt").exists()
    unlock = snakemake("--configfile", "mini.yaml", "--unlock", cwd=work)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    result = snakemake("--configfile", "mini.yaml", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    resumed = manifest(work / "results")
    assert len(resumed) > 50
    assert differences(mini_reference, resumed) == []


def test_killed_reconstruction_leaves_no_stale_png(tmp_path_factory):
    """SIGKILL while a reconstruct job has written part of its ``.tmp`` folder, plus a PNG there that the
    rerun will not write (as an attempt with other chunks or more samples leaves): the rerun's folder
    holds exactly the chunk's reconstructions."""
    from sdbrain.reconstruct import png_name

    work = mini_dir(tmp_path_factory, "killed_reconstruct")
    target = "results/reconstruct/subj01/c/chunk0"
    proc = subprocess.Popen(snakemake_cmd(work, target), cwd=work, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    partial = work / (target + ".tmp")
    try:
        deadline = time.time() + 900
        while not any(partial.glob("*.png")) and proc.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        assert proc.poll() is None, "the run ended before the job wrote a PNG"
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert any(partial.glob("*.png")) and not (work / target).exists(), "the job was killed while writing its PNGs"
    (partial / png_name(999999, 0)).write_bytes(b"stale")  # an image of another chunk
    (partial / png_name(1, MINI["reconstruct"]["n_samples"])).write_bytes(b"stale")  # a sample beyond n_samples
    assert snakemake("--configfile", "mini.yaml", "--unlock", cwd=work).returncode == 0
    result = snakemake(target, "--configfile", "mini.yaml", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    ids = pd.read_csv(work / "results/decode/subj01/c_test_ids.tsv", sep="\t")["nsd_id"]
    expected = {png_name(i, s) for i in ids for s in range(MINI["reconstruct"]["n_samples"])}
    assert {f.name for f in (work / target).iterdir()} - {".snakemake_timestamp"} == expected
    assert not partial.exists()
