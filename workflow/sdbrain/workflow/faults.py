"""Fault injection, for testing that retries recover a failed job (tests only; not in config.yaml).

Config key ``fault_injection.fail_first_attempt`` names rules whose jobs fail their first attempt;
``job.run`` asks here before a job's ``main`` runs.
"""
from __future__ import annotations

import hashlib
from pathlib import Path

from sdbrain.errors import InputError

MARKERS = Path("logs/fault_injection")


def injected_failure(rule: str, outputs, settings: dict) -> None:
    """Fail the first attempt of a job of ``rule`` if ``settings['fail_first_attempt']`` names the rule.

    A marker under logs/fault_injection/ records the failure, so the next attempt runs.

    Parameters
    ----------
    rule : str
        The job's rule.
    outputs : list of str
        The job's outputs: they tell its jobs apart.
    settings : dict
        The config's ``fault_injection`` section (empty where it has none).
    """
    if rule not in settings.get("fail_first_attempt", []):
        return
    marker = MARKERS / f"{rule}-{hashlib.sha1(' '.join(outputs).encode()).hexdigest()[:12]}"
    if marker.exists():
        return
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.touch()
    raise InputError(f"config key 'fault_injection.fail_first_attempt': rule {rule} fails its first attempt "
                     "on purpose")
