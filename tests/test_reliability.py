"""Interrupted runs resume to the same results, the SLURM profile gives the results of a local
run, and two computations of every output are identical.

Each run is the reduced toy workflow MINI (40 jobs through every stage) in its own directory.
Two are made side by side: one killed three times and resumed with the documented commands (docs/usage.md), and
one uninterrupted, through profiles/slurm on a single-node SLURM with one rule failing its first
attempt (tests/slurm_cluster.py), or a plain local run where SLURM cannot run here. The SLURM
run's waits on its scheduler leave the cores to the local run. Their manifests compare every
array, volume and table: equal, they show that a resumed run finishes as an uninterrupted one,
that SLURM jobs compute what local ones do, and that the workflow is deterministic (each run
computes every output itself).
"""
from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import pandas as pd
import pytest
import yaml

from configs import MINI
from conftest import ROOT, snakemake
from manifest import differences, manifest
from slurm_cluster import Cluster, local_profile, missing

WHY_NO_SLURM = missing()
# the Snakefile's localrules: on SLURM they run beside Snakemake, not as SLURM jobs
LOCAL_RULES = ("run_config", "run_logs", "reconstruct_manifest", "eval_summary", "validity_summary", "rate_trials")


def snakemake_cmd(work: Path, *targets: str, profile: str = str(ROOT / "profiles/default")) -> list[str]:
    return [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
            "--workflow-profile", profile, *targets, "--configfile", "mini.yaml"]


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


class Uninterrupted:
    """A MINI run from start to end in the background: through SLURM with a retry where SLURM can run
    here, else locally. ``finish`` waits for it."""

    def __init__(self, work: Path, slurm: Cluster | None):
        self.work, self.slurm = work, slurm
        cmd = snakemake_cmd(work)
        if slurm is not None:
            config = {**MINI, "fault_injection": {"fail_first_attempt": ["decode"]}}
            (work / "mini.yaml").write_text(yaml.safe_dump(config))
            profile = local_profile(ROOT, work.parent / f"{work.name}_profile")
            cmd = ["timeout", "-k", "30", "1500", *snakemake_cmd(work, profile=profile)]
        self.stderr_file = work.parent / f"{work.name}.stderr"
        with open(self.stderr_file, "w") as err:
            self.proc = subprocess.Popen(cmd, cwd=work, env=None if slurm is None else slurm.env,
                                         stdout=subprocess.DEVNULL, stderr=err, start_new_session=True)
        self._manifest = None

    def finish(self) -> dict[str, str]:
        """The run's manifest, once it has ended (its errors and the cluster's logs if it failed)."""
        if self._manifest is None:
            code = self.proc.wait(timeout=1800)
            assert code == 0, self.stderr_file.read_text()[-4000:] + (self.slurm.logs() if self.slurm else "")
            self._manifest = manifest(self.work / "results")
        return self._manifest

    def stop(self) -> None:
        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
    slurm = Cluster(tmp_path_factory.mktemp("slurm")) if WHY_NO_SLURM is None else None
    run = None
    try:
        if slurm is not None:
            slurm.start()
        run = Uninterrupted(mini_dir(tmp_path_factory, "uninterrupted"), slurm)
        yield run
    finally:
        if run is not None:
            run.stop()
        if slurm is not None:
            slurm.stop()


@pytest.fixture(scope="module")
def killed(uninterrupted, tmp_path_factory) -> SimpleNamespace:
    """A MINI run given SIGKILL (to the Snakemake process group) while features, reconstruction and
    an encoding model are being computed, then finished with the documented resume commands (docs/usage.md), while the
    uninterrupted run goes on in the background."""
    work = mini_dir(tmp_path_factory, "killed")
    for i, pattern in enumerate(("logs/features/z_chunk*.log", "logs/reconstruct/subj01_zc0.5_chunk*.log",
                                 "logs/encode/subj01_c.log")):
        if i:  # docs/usage.md: after a crash, `snakemake --unlock`, then the same command again
            unlock = snakemake("--configfile", "mini.yaml", "--unlock", cwd=work)
            assert unlock.returncode == 0, unlock.stderr[-2000:]
        assert kill_when(work, pattern, after=1.0), f"the run ended before {pattern} appeared"
    reported_before_resume = (work / "results/report/logs.txt").exists()
    unlock = snakemake("--configfile", "mini.yaml", "--unlock", cwd=work)
    assert unlock.returncode == 0, unlock.stderr[-2000:]
    result = snakemake("--configfile", "mini.yaml", cwd=work)
    assert result.returncode == 0, result.stderr[-3000:]
    return SimpleNamespace(reported_before_resume=reported_before_resume, manifest=manifest(work / "results"))


def test_killed_three_times_then_resumed_equals_an_uninterrupted_run(killed, uninterrupted):
    assert not killed.reported_before_resume, "the killed run had not reached its end"
    assert len(killed.manifest) > 50
    assert differences(uninterrupted.finish(), killed.manifest) == []


@pytest.mark.skipif(WHY_NO_SLURM is not None, reason=f"SLURM cannot run here: {WHY_NO_SLURM}")
def test_toy_workflow_through_slurm_with_a_retry_equals_a_local_run(killed, uninterrupted):
    """The uninterrupted run went through SLURM: its jobs through the executor, the localrules beside
    Snakemake, and both decode jobs failed once (their SLURM logs are kept) and were retried; its
    results equal those of the local (killed and resumed) run."""
    slurm = uninterrupted.finish()
    stderr = uninterrupted.stderr_file.read_text()
    assert "slurm" in stderr.lower()  # the jobs went through the executor
    for rule in LOCAL_RULES:
        assert f"localrule {rule}:" in stderr, rule
    logs = uninterrupted.work / ".snakemake/slurm_logs"
    failed = [p for p in logs.rglob("*.log") if "fails its first attempt on purpose" in p.read_text()]
    assert len(failed) == 2, [str(p) for p in logs.rglob("*.log")]
    assert differences(killed.manifest, slurm) == []


def test_killed_reconstruction_leaves_no_stale_png(uninterrupted, tmp_path_factory):
    """SIGKILL while a reconstruct job has written part of its ``.tmp`` folder, plus a PNG there that the
    rerun will not write (as an attempt with other chunks or more samples leaves): the rerun's folder
    holds exactly the chunk's reconstructions.

    The job's inputs (toy world, features, decoders) are a copy of the uninterrupted run's folder,
    with their times and Snakemake's records, so that only the reconstruction runs."""
    from sdbrain.reconstruction.reconstruct import png_name

    uninterrupted.finish()
    work = tmp_path_factory.mktemp("killed_reconstruct")
    shutil.copytree(uninterrupted.work, work, symlinks=True, dirs_exist_ok=True)
    (work / "mini.yaml").write_text(yaml.safe_dump(MINI))  # without the SLURM run's fault injection
    target = "results/reconstruct/subj01/c/chunk0"
    shutil.rmtree(work / target)
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
    assert "1 of 1 steps" in result.stderr, "the copied run's other outputs are up to date"
    ids = pd.read_csv(work / "results/decode/subj01/c_test_ids.tsv", sep="\t")["nsd_id"]
    expected = {png_name(i, s) for i in ids for s in range(MINI["reconstruct"]["n_samples"])}
    assert {f.name for f in (work / target).iterdir()} - {".snakemake_timestamp"} == expected
    assert not partial.exists()
