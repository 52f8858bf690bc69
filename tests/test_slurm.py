"""The SLURM profile on a real SLURM: a single-node cluster on localhost runs the toy DAG.

The profile is profiles/slurm as shipped, with the values a user edits (partitions,
account) pointed at the local cluster. One rule fails its first attempt on purpose
(config key fault_injection); the profile's retries must recover it, and the results
must equal those of a local run.
"""
from __future__ import annotations

import subprocess
import sys

import pytest
import yaml

from configs import MINI
from conftest import ROOT
from manifest import differences, manifest
from slurm_cluster import PARTITION, Cluster, missing

WHY_NOT = missing()
pytestmark = pytest.mark.skipif(WHY_NOT is not None, reason=f"SLURM cannot run here: {WHY_NOT}")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    c = Cluster(tmp_path_factory.mktemp("slurm"))
    try:
        c.start()
        yield c
    finally:
        c.stop()


def local_profile(directory) -> str:
    """profiles/slurm with its EDIT values set for the local cluster, and short waits for a test."""
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    del profile["default-resources"]["slurm_account"]
    profile["slurm-no-account"] = True
    for resources in profile["set-resources"].values():
        resources["slurm_partition"] = PARTITION
        # the test cluster's node has no GPU: a job given one would stop at once (sdbrain.hardware)
        resources.pop("gpu", None)
        resources.pop("cpus_per_gpu", None)
    profile.update({"latency-wait": 5, "slurm-init-seconds-before-status-checks": 2, "seconds-between-status-checks": 1})
    # the local reference run has no GPU, so its GPU rules run with one thread; threads can change float
    # rounding, and the comparison is bit for bit
    del profile["set-threads"]
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return str(directory)


def test_profile_asks_for_a_gpu_on_every_gpu_rule():
    """Every rule that declares gpu=GPU is sent to the GPU partition with a GPU and two threads, and no other."""
    import re
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    gpu_rules = set()
    for path in (ROOT / "workflow/rules").glob("*.smk"):
        for block in re.split(r"(?m)^rule ", path.read_text())[1:]:
            if re.search(r"(?m)^\s+gpu=GPU,", block):
                gpu_rules.add(block.split(":")[0])
    assert gpu_rules == set(profile["set-resources"]) == set(profile["set-threads"])
    assert all(r["gpu"] == 1 for r in profile["set-resources"].values())
    assert all(r["slurm_partition"] != profile["default-resources"]["slurm_partition"]
               for r in profile["set-resources"].values())


def test_toy_workflow_through_slurm_equals_local_run_with_a_retry(cluster, mini_reference, tmp_path_factory):
    work = tmp_path_factory.mktemp("slurm_run")
    config = {**MINI, "fault_injection": {"fail_first_attempt": ["decode"]}}
    (work / "mini.yaml").write_text(yaml.safe_dump(config))
    (work / "profile").mkdir()
    cmd = ["timeout", "-k", "30", "1200", sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"),
           "--directory", str(work), "--workflow-profile", local_profile(work / "profile"),
           "--configfile", "mini.yaml"]
    result = subprocess.run(cmd, cwd=work, env=cluster.env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-4000:] + cluster.logs()
    assert "slurm" in result.stderr.lower()  # the jobs went through the executor
    # the Snakefile's localrules run beside Snakemake, not as SLURM jobs
    for rule in ("run_config", "run_logs", "reconstruct_manifest", "eval_summary", "validity_summary", "rate_trials"):
        assert f"localrule {rule}:" in result.stderr, rule
    # both decode jobs failed once (their SLURM logs are kept) and were retried
    failed = [p for p in (work / ".snakemake/slurm_logs").rglob("*.log")
              if "fails its first attempt on purpose" in p.read_text()]
    assert len(failed) == 2, [str(p) for p in (work / ".snakemake/slurm_logs").rglob("*.log")]
    assert differences(mini_reference, manifest(work / "results")) == []
