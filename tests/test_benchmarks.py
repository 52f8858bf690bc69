"""The benchmark scripts follow the package's API: every script imports, every sdbrain import it makes (at its top
level or inside a function) resolves and every function of a package module it names is there, and those that
finish in a few seconds at their smallest sizes run there (benchmarks/suite.py --small runs them all, in minutes).
Their figures at these sizes mean nothing."""
import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import ROOT

BENCHMARKS = ROOT / "benchmarks"
SCRIPTS = sorted(BENCHMARKS.glob("*.py"))
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(BENCHMARKS), str(ROOT / "workflow")]),
       "HF_HUB_OFFLINE": "1"}

# a script at its smallest sizes (each runs in a few seconds on 2 cores), and what its output must hold
RUNS = {
    "decoder": (["benchmarks/decoder.py", "--sizes", "60x8x4"], "| 60 x 8 -> 4, 11 alphas, 5-fold |"),
    "encoding": (["benchmarks/encoding.py", "--trials", "50", "--features", "8", "--voxels", "20"],
                 "| 50 trials x 8 features -> 20 voxels"),
    "encoding_memory": (["benchmarks/encoding_memory.py", "--voxels", "100", "--trials", "40", "--features", "8",
                         "--test", "10", "--budgets", "256"], "| none: one block (reference) | 100 | 1 |"),
    # the suite's plumbing, with ingest_memory (on a tiny grid) and identification at their smallest sizes
    "suite": (["benchmarks/suite.py", "--small", "--sections", "ingest_memory.py", "identification.py"],
              "| 4 images x 1 samples |"),
    # gpu.py's banded ridge row on the CPU, one band weight: benchmarks/banded.py's settings of config/nsd.yaml,
    # banded.fit_voxels with the himalaya solver and banded.block_size
    "blip_routes": (["benchmarks/blip_routes.py", "--images", "1", "--layers", "1"], "| smooth | 0.0192 |"),
    "gpu_banded": (["benchmarks/gpu.py", "--small", "--banded-only", "1"], "banded ridge joint model"),
}


def run(*cmd, timeout=300) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=ROOT, env=ENV, timeout=timeout)


def package_imports(script: Path) -> list[str]:
    """Every import of sdbrain in ``script``, at its top level or inside a function, as a statement."""
    found = []
    for node in ast.walk(ast.parse(script.read_text())):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sdbrain" and node.level == 0:
            found.append(ast.unparse(node))
        elif isinstance(node, ast.Import) and any(a.name.split(".")[0] == "sdbrain" for a in node.names):
            found.append(ast.unparse(node))
    return found


def module_attributes(script: Path) -> set[tuple[str, str]]:
    """(module, name) of each ``alias.name`` in ``script`` where ``alias`` is a name imported from sdbrain (a module
    or not: the check skips those that are not) and never assigned in the script."""
    tree = ast.parse(script.read_text())
    aliases = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "sdbrain" and node.level == 0:
            aliases.update({a.asname or a.name: f"{node.module}.{a.name}" for a in node.names})
        elif isinstance(node, ast.Import):
            aliases.update({a.asname: a.name for a in node.names if a.asname and a.name.split(".")[0] == "sdbrain"})
    assigned = {node.id for node in ast.walk(tree) if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store)}
    assigned |= {node.arg for node in ast.walk(tree) if isinstance(node, ast.arg)}
    return {(aliases[node.value.id], node.attr) for node in ast.walk(tree)
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id in aliases
            and node.value.id not in assigned}


CHECK_ATTRIBUTES = """
import importlib, sys
missing = []
for script, module, name in ATTRIBUTES:
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError:  # a function or class imported from a module, not a module
        continue
    if not hasattr(found, name):
        missing.append(f"benchmarks/{script}: {module}.{name}")
sys.exit("\\n".join(["not in the package:", *missing]) if missing else 0)
"""


def test_every_benchmark_script_imports_with_its_package_imports():
    statements = [f"import {script.stem}" for script in SCRIPTS]
    statements += sorted({line for script in SCRIPTS for line in package_imports(script)})
    assert any("sdbrain.linear" in line for line in statements)  # the walk finds imports inside functions too
    attributes = sorted((script.name, module, name) for script in SCRIPTS for module, name in module_attributes(script))
    assert ("reconstruction.py", "sdbrain.sd.pipeline", "Sampling") in attributes
    code = "\n".join(statements) + f"\nATTRIBUTES = {attributes!r}\n" + CHECK_ATTRIBUTES
    result = run(sys.executable, "-c", code)
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize("name", RUNS)
def test_benchmark_runs_at_its_smallest_sizes(name):
    args, expected = RUNS[name]
    result = run(sys.executable, *args)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert expected in result.stdout, result.stdout[-2000:]


def test_banded_nsd_estimate_follows_nsd_yaml():
    result = run(sys.executable, "-c", "import banded; print(banded.nsd_row())")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.startswith("| NSD: 24980 trials")
