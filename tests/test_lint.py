"""The linters that CI runs before the tests (ruff, snakefmt, snakemake --lint), so that `pytest` alone
catches a finding too. Each is skipped, with the reason, where its tool is not installed."""
import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BIN = Path(sys.executable).parent  # the tools of the test's own environment first


def tool(name: str) -> str:
    path = shutil.which(name, path=str(BIN)) or shutil.which(name)
    if path is None:
        pytest.skip(f"{name} is not installed (pip install -e '.[test]')")
    return path


def run(*cmd, cwd=ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_ruff_finds_nothing():
    result = run(tool("ruff"), "check", "workflow", "tests", "benchmarks", "docs")
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]


def test_snakefmt_leaves_every_rule_file_as_it_is():
    result = run(tool("snakefmt"), "--check", ".")
    assert result.returncode == 0, result.stderr[-4000:]
    # the Snakefile and every rule file were checked (snakefmt reports how many files it looked at)
    n_files = 1 + len(list((ROOT / "workflow/rules").glob("*.smk")))
    assert f"All {n_files} file(s) would be left unchanged" in result.stderr, result.stderr[-2000:]


def test_snakemake_lint_is_clean(tmp_path):
    if importlib.util.find_spec("snakemake") is None:
        pytest.skip("snakemake is not installed")
    result = run(sys.executable, "-m", "snakemake", "--snakefile", ROOT / "Snakefile", "--directory", tmp_path,
                 "--lint", cwd=tmp_path)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Congratulations" in result.stdout + result.stderr


def test_snakemake_lint_fails_on_a_finding(tmp_path):
    """The check above can fail: a rule with an absolute path is a lint, and --lint exits non-zero for it."""
    if importlib.util.find_spec("snakemake") is None:
        pytest.skip("snakemake is not installed")
    (tmp_path / "Snakefile").write_text('rule a:\n    output:\n        "/tmp/x"\n    shell:\n        "touch {output}"\n')
    result = run(sys.executable, "-m", "snakemake", "--snakefile", tmp_path / "Snakefile", "--directory", tmp_path,
                 "--lint", cwd=tmp_path)
    assert result.returncode != 0 and "Absolute path" in result.stdout + result.stderr


def test_the_import_contracts_are_kept():
    """pyproject.toml's import-linter contracts: the method layer does not import the workflow layer, the workflow
    layer imports no torch, diffusers, transformers or pycortex, nothing outside sdbrain.toy imports it, no cycles."""
    result = run(tool("lint-imports"))
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert "Contracts: 4 kept, 0 broken." in result.stdout


def test_the_import_contracts_catch_a_crossed_layer(tmp_path):
    """The check above can fail: in a copy of the package where a method module imports the workflow layer and the
    workflow layer imports torch, both layer contracts are broken."""
    shutil.copytree(ROOT / "workflow/sdbrain", tmp_path / "sdbrain", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    with open(tmp_path / "sdbrain/linear/stats.py", "a") as module:
        module.write("\nfrom sdbrain.workflow import paths  # noqa\n")
    with open(tmp_path / "sdbrain/workflow/paths.py", "a") as module:
        module.write("\nimport torch  # noqa\n")
    result = subprocess.run([tool("lint-imports")], capture_output=True, text=True, cwd=tmp_path, timeout=300,
                            env={**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0
    assert "The method layer does not import the workflow layer BROKEN" in result.stdout
    assert "The workflow layer imports no torch, diffusers, transformers or pycortex BROKEN" in result.stdout
    assert "sdbrain.linear.stats -> sdbrain.workflow.paths" in result.stdout
    assert "sdbrain.workflow.paths -> torch" in result.stdout
