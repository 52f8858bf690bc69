"""Conda environments: each parses, lists exactly what its rules import, and pins what the project is tested with.

conda cannot reach its channels here, so the envs are checked against the code instead:
every rule names an env; the third-party modules its script imports (and, through the
package, at module level) are in that env; every package of an env is imported by one
of its rules (at module level or inside a function they reach), or is a named runtime
need; every version pin matches the version installed here and pyproject's requirement.
"""
import ast
import re
import sys
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement

from conftest import ROOT

PACKAGE = ROOT / "workflow" / "sdbrain"
IMPORT_NAMES = {"pillow": "PIL", "pyyaml": "yaml", "scikit-learn": "sklearn", "scikit-image": "skimage",
                "pycortex": "cortex", "pytorch": "torch", "matplotlib-base": "matplotlib"}
# conda-forge names of packages whose PyPI (installed) name differs
DIST_NAMES = {"pytorch": "torch", "matplotlib-base": "matplotlib"}
# packages that must come from conda-forge, never from an env's pip section: pip's torch is the
# CUDA build (several GB, in every env), pycortex on PyPI is an sdist that needs a compiler
NOT_FROM_PIP = {"torch", "torchvision", "pycortex"}
# packages an env needs without importing them by name
RUNTIME = {"python": "the interpreter", "pip": "installs the pip section", "safetensors": "diffusers' weight files",
           "accelerate": "diffusers' low-memory loading", "packaging": "imported by himalaya without declaring it"}


def rules():
    """{rule: (env file, script file)} of every rule that runs code."""
    found = {}
    for smk in sorted((ROOT / "workflow" / "rules").glob("*.smk")):
        for block in re.split(r"\n(?=rule )", smk.read_text()):
            name = re.match(r"rule (\w+):", block)
            script = re.search(r'script:\s*\n\s*"([^"]+)"', block)
            if name and script:
                env = re.search(r'conda:\s*\n\s*"([^"]+)"', block)
                found[name.group(1)] = ((smk.parent / env.group(1)).resolve() if env else None,
                                        (smk.parent / script.group(1)).resolve())
    return found


def imports(path: Path, module_level: bool):
    """Top-level names imported by a file, and the sdbrain modules it imports."""
    tree = ast.parse(path.read_text())
    nodes = tree.body if module_level else list(ast.walk(tree))
    names, package = set(), set()
    for node in nodes:
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            if node.level or (node.module or "").startswith("sdbrain"):
                module = (node.module or "").removeprefix("sdbrain").lstrip(".").replace(".", "/")
                # a module (sdbrain.x, sdbrain.rate.x) or modules imported from a package (from sdbrain.rate import x)
                package |= {module} | {f"{module}/{a.name}".lstrip("/") for a in node.names}
            else:
                names.add(node.module.split(".")[0])
    package = {PACKAGE / f"{m}.py" for m in package if m and (PACKAGE / f"{m}.py").exists()}
    return names - set(sys.stdlib_module_names) - {"sdbrain"}, package


def closure(script: Path, module_level: bool):
    names, todo, seen = set(), [script], set()
    while todo:
        path = todo.pop()
        found, package = imports(path, module_level)
        names |= found
        for module in package - seen:
            seen.add(module)
            todo.append(module)
    return names


def env_packages(path: Path) -> dict[str, str | None]:
    """{package: pinned version or None} of an env file (conda and pip sections)."""
    spec = yaml.safe_load(path.read_text())
    out = {}
    for item in spec["dependencies"]:
        for entry in item["pip"] if isinstance(item, dict) else [item]:
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)\s*(==|=)?\s*([^<>=]*)?(.*)", entry)
            name, version, rest = match.group(1), match.group(3), match.group(4)
            out[name] = version if version and not rest else None  # ranges (e.g. packaging<26) are not pins
    return out


ENVS = sorted((ROOT / "envs").glob("*.yaml"))


def test_every_rule_that_runs_code_names_an_existing_env():
    found = rules()
    assert len(found) >= 25
    for rule, (env, _) in found.items():
        assert env is not None and env.exists(), f"rule {rule} names no env"
        assert env in [e.resolve() for e in ENVS]


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_lists_exactly_what_its_rules_import(env):
    scripts = [script for e, script in rules().values() if e == env.resolve()]
    assert scripts, f"{env.name} is used by no rule"
    needed = set().union(*(closure(s, module_level=True) for s in scripts))
    reachable = set().union(*(closure(s, module_level=False) for s in scripts))
    packages = env_packages(env)
    provided = {IMPORT_NAMES.get(name, name) for name in packages}
    assert needed <= provided, f"{env.name} lacks {sorted(needed - provided)}"
    unused = {name for name in packages if IMPORT_NAMES.get(name, name) not in reachable and name not in RUNTIME}
    assert not unused, f"{env.name} lists {sorted(unused)}, which none of its rules imports"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_pins_match_the_tested_versions_and_pyproject(env):
    pyproject = (ROOT / "pyproject.toml").read_text()
    requirements = {Requirement(r).name.lower(): Requirement(r)
                    for r in re.findall(r'^\s*"([^"]+)",', pyproject, flags=re.M)}
    for name, version in env_packages(env).items():
        if name in ("python", "pip") or version is None:
            continue
        installed = metadata.version(DIST_NAMES.get(name, name))
        assert installed == version or installed.startswith(version + "."), f"{env.name}: {name}={version}, tested {installed}"
        if DIST_NAMES.get(name, name).lower() in requirements:
            assert requirements[DIST_NAMES.get(name, name).lower()].specifier.contains(installed), f"{env.name}: {name} vs pyproject"


@pytest.mark.parametrize("env", ENVS, ids=lambda p: p.name)
def test_env_builds_from_conda_forge_alone(env):
    """conda-forge and nothing else (nodefaults), matplotlib without its GUI metapackage, and the
    compiled packages as conda-forge builds, not pip installs."""
    spec = yaml.safe_load(env.read_text())
    assert spec["channels"] == ["conda-forge", "nodefaults"], env.name
    conda = [re.split(r"[=<>\s]", item)[0] for item in spec["dependencies"] if isinstance(item, str)]
    pip = [re.split(r"[=<>\s]", entry)[0] for item in spec["dependencies"] if isinstance(item, dict)
           for entry in item["pip"]]
    assert "matplotlib" not in conda + pip, f"{env.name}: matplotlib-base, not matplotlib"
    assert not NOT_FROM_PIP & set(pip), f"{env.name} pip-installs {sorted(NOT_FROM_PIP & set(pip))}"
    assert ("pip" in conda) == bool(pip), f"{env.name}: a pip section needs pip, and pip a pip section"
