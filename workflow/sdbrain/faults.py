"""Fault injection, for testing that retries recover a failed job (tests only; not in config.yaml).

Config key ``fault_injection.fail_first_attempt`` names rules whose jobs fail their first
attempt; ``errors.guarded`` asks here before a job's ``main`` runs.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from .errors import InputError

MARKERS = Path("logs/fault_injection")


def injected_failure(job) -> None:
    """Fail the first attempt of ``job`` (a script's ``snakemake`` object) if config key
    ``fault_injection.fail_first_attempt`` names its rule (the only key of the job's config read here).

    A marker under logs/fault_injection/ records the failure, so the next attempt runs.
    """
    if job.rule not in (job.config.get("fault_injection") or {}).get("fail_first_attempt", []):
        return
    marker = MARKERS / f"{job.rule}-{hashlib.sha1(' '.join(job.output).encode()).hexdigest()[:12]}"
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    raise InputError(f"config key 'fault_injection.fail_first_attempt': rule {job.rule} fails its first attempt "
                     "on purpose")
