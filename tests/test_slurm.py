"""The SLURM profile as shipped (profiles/slurm): which rules it sends to the GPU partition.

The toy DAG through this profile on a real single-node SLURM, with a retry, is in
tests/test_reliability.py, beside the interrupted local run it is compared with.
"""
from __future__ import annotations

import yaml

from conftest import ROOT


def test_profile_asks_for_a_gpu_on_every_gpu_rule():
    """Every rule that declares gpu=GPU is sent to the GPU partition with a GPU and two threads, and no other."""
    import re
    profile = yaml.safe_load((ROOT / "profiles/slurm/config.yaml").read_text())
    gpu_rules = set()
    for path in (ROOT / "workflow/rules").glob("*.smk"):
        for block in re.split(r"(?m)^rule ", path.read_text())[1:]:
            if re.search(r"(?m)^\s+gpu=gpu,", block):
                gpu_rules.add(block.split(":")[0])
    assert gpu_rules == set(profile["set-resources"]) == set(profile["set-threads"])
    assert all(r["gpu"] == 1 for r in profile["set-resources"].values())
    assert all(r["slurm_partition"] != profile["default-resources"]["slurm_partition"]
               for r in profile["set-resources"].values())

