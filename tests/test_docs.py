"""The documentation: the generated pages are what their generator writes, every config key is described and on the
configuration page, the site builds strictly (every link and anchor resolves), the README stays a front page with
the Quickstart's two commands, and headless Chromium shows the built site with its navigation and Fig. 3."""
import functools
import http.server
import importlib.util
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from browser import MISSING, chromium
from conftest import ROOT

GENERATE = ROOT / "docs/generate.py"
SCREENSHOT_COPY = Path("/tmp/docs_screenshot.png")
QUICKSTART = (
    'python3.11 -m venv .venv && .venv/bin/pip install -e . && .venv/bin/snakemake --cores 2',
    'python3.11 -m venv .venv && .venv/bin/pip install -e ".[test]" && .venv/bin/python -m pytest',
)
NO_BANNER = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}


def run(*cmd, cwd=ROOT, env=None) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], capture_output=True, text=True, cwd=cwd, timeout=600, env=env)


def needs(module: str):
    if importlib.util.find_spec(module) is None:
        pytest.skip(f"{module} is not installed (pip install -e '.[test]')")


# --- the generated pages -------------------------------------------------------------------------------------

def test_the_configuration_page_is_what_the_generator_writes():
    result = run(sys.executable, GENERATE, "config", "--check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_rule_graph_page_is_what_the_generator_writes():
    needs("snakemake")
    result = run(sys.executable, GENERATE, "rules", "--check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_drift_check_fails_on_a_page_edited_by_hand(tmp_path):
    """The checks above can fail: in a copy of the repository's files, a hand edit of the configuration page (and
    a schema description changed without regenerating) is reported, naming the page."""
    for name in ("docs/generate.py", "docs/configuration.md", "config/schema.yaml", "config/config.yaml",
                 "config/nsd.yaml"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    page = tmp_path / "docs/configuration.md"
    assert run(sys.executable, tmp_path / "docs/generate.py", "config", "--check").returncode == 0
    page.write_text(page.read_text().replace("Z-score each voxel", "Standardise each voxel"))
    result = run(sys.executable, tmp_path / "docs/generate.py", "config", "--check")
    assert result.returncode == 1
    assert result.stdout.splitlines()[0].startswith("docs/configuration.md is not what")
    assert "+| `ingest.zscore_sessions`" in result.stdout  # the diff shows the generated line
    # a description changed in the schema and not regenerated is drift too
    run(sys.executable, tmp_path / "docs/generate.py", "config")
    schema = tmp_path / "config/schema.yaml"
    schema.write_text(schema.read_text().replace("Trials read from an HDF5 betas file", "HDF5 trials read"))
    assert run(sys.executable, tmp_path / "docs/generate.py", "config", "--check").returncode == 1


def test_the_results_page_and_the_readme_summary_are_what_the_run_tables_give():
    """docs/results.md and the README's results-summary block are generated from the run tables in docs/results/."""
    result = run(sys.executable, ROOT / "docs/results.py", "--check")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]


def test_the_results_check_fails_when_a_table_changes(tmp_path):
    """The check above can fail: in a copy of the docs, a run table that says something else (X_zc's two-way
    identification on the novel scenes falls below the ceiling's interval for subj02) no longer gives the committed
    page, and its regenerated text says so."""
    for name in ("docs/results.py", "docs/results.md", "docs/departures.md", "docs/text.md", "docs/gan.md", "README.md"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(ROOT / "docs/results", tmp_path / "docs/results")
    script = tmp_path / "docs/results.py"
    assert run(sys.executable, script, "--check").returncode == 0
    summary = tmp_path / "docs/results/default/validity/summary.tsv"
    table = summary.read_text().splitlines()
    row = next(i for i, line in enumerate(table)
               if line.startswith("late\tzc0.8\ttwoway\ttoy:novel\t") and line.endswith("\tsubj02"))
    cells = table[row].split("\t")
    cells[5] = "0.9"  # the mean
    table[row] = "\t".join(cells)
    summary.write_text("\n".join(table) + "\n")
    result = run(sys.executable, script, "--check")
    assert result.returncode == 1 and "docs/results.md differs" in result.stderr
    run(sys.executable, script)
    assert "subj02 0.900, outside the ceiling's interval" in (tmp_path / "docs/results.md").read_text()


def test_the_rule_graph_is_sorted_and_lists_every_rule():
    text = (ROOT / "docs/rules.md").read_text()
    graph = re.search(r"```mermaid\n(.*?)```", text, flags=re.S)[1]
    assert graph.startswith("flowchart TB\n")
    nodes = re.findall(r"^\tid(\d+)\[(\w+)\]$", graph, flags=re.M)
    assert [name for _, name in nodes] == sorted(name for _, name in nodes)
    assert [int(i) for i, _ in nodes] == list(range(len(nodes)))
    edges = [tuple(map(int, e)) for e in re.findall(r"^\tid(\d+) --> id(\d+)$", graph, flags=re.M)]
    assert edges == sorted(set(edges)) and len(edges) > len(nodes)
    rules = set()
    for path in [ROOT / "Snakefile", *(ROOT / "workflow/rules").glob("*.smk")]:
        rules |= set(re.findall(r"^rule (\w+):", path.read_text(), flags=re.M))
    table = set(re.findall(r"^\| `(\w+)` \| `[\w.]+` \| (?:yes|no) \| .+ \|$", text, flags=re.M))
    assert table == rules
    assert {name for _, name in nodes} <= rules and {"all", "decode", "encode", "reconstruct"} <= table


# --- the configuration reference ------------------------------------------------------------------------------

def schema_keys(node: dict, path: str = ""):
    """Every key the schema defines: (dotted path, its node); ``<name>`` for keys the user names."""
    for name, child in node.get("properties", {}).items():
        key = f"{path}.{name}" if path else name
        yield key, child
        yield from schema_keys(child, key)
        extra = child.get("additionalProperties")
        if isinstance(extra, dict) and "properties" in extra:
            yield from schema_keys(extra, f"{key}.<name>")


def config_keys(value, path: str = ""):
    """Every dotted key of a config file, nested ones included."""
    for name, child in value.items():
        key = f"{path}.{name}" if path else str(name)
        yield key
        if isinstance(child, dict):
            yield from config_keys(child, key)


SCHEMA = yaml.safe_load((ROOT / "config/schema.yaml").read_text())


def test_every_schema_key_has_a_description():
    keys = dict(schema_keys(SCHEMA))
    assert len(keys) > 100
    missing = [key for key, node in keys.items() if not str(node.get("description", "")).strip()]
    assert not missing, f"config/schema.yaml: no description for {missing}"


def documented_key(parts: list[str], documented: list[str]) -> str | None:
    """The schema key that names ``parts`` ('<name>' stands for any name), or None."""
    for key in documented:
        pattern = key.split(".")
        if len(pattern) == len(parts) and all(a in ("<name>", b) for a, b in zip(pattern, parts)):
            return key
    return None


@pytest.mark.parametrize("name", ["config.yaml", "nsd.yaml"])
def test_every_config_key_is_on_the_configuration_page(name):
    """A key the schema defines has a row of its own (a section, a heading); keys inside a mapping the schema leaves
    open (an ROI's name, a U-Net layer's, toy.train.vae's) appear in the value of that mapping's row."""
    page = (ROOT / "docs/configuration.md").read_text()
    documented = [key for key, _ in schema_keys(SCHEMA)]
    config = yaml.safe_load((ROOT / "config" / name).read_text())
    for key in config_keys(config):
        parts = key.split(".")
        n, row = next((n, documented_key(parts[:n], documented)) for n in range(len(parts), 0, -1)
                      if documented_key(parts[:n], documented))
        if f"\n## `{row}`\n" in page:  # a section: a heading of its own, its keys in rows below
            continue
        assert f"| `{row}` |" in page, f"config/{name}: key {key} has no row `{row}` in docs/configuration.md"
        line = next(line for line in page.splitlines() if line.startswith(f"| `{row}` |"))
        for part in parts[n:]:  # a key inside an open mapping: in the default or a config's value
            assert re.search(rf"\b{re.escape(part)}\b", line) or f"`{row}.<name>" in page, \
                f"config/{name}: key {key} is not shown in the row of {row}"


def test_the_configuration_page_shows_defaults_and_the_values_that_differ():
    page = (ROOT / "docs/configuration.md").read_text()
    rows = {m[1]: m[0] for m in re.finditer(r"^\| `([^`]+)` \|.*$", page, flags=re.M)}
    cells = {key: [c.strip() for c in row.split("|")[1:-1]] for key, row in rows.items()}
    # key | type | default | toy | NSD | what it sets
    assert cells["model_dir"][2:5] == ["**required**", "`resources/toy_sd`", "`/path/to/stable-diffusion-v1-4`"]
    assert cells["encode.banded.solver"][1:5] == ["one of `eigh`, `himalaya`", "`eigh`", "", ""]
    assert cells["reconstruct.noise_start"][2:5] == ["`compvis`", "`diffusers`", ""]
    assert cells["sessions"][1] == "list of integer in [1, 40] (unique)"
    assert "## `encode`" in page and "## `toy`" in page


# --- the site --------------------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def site(tmp_path_factory):
    """The site, built strictly into a temporary folder (None, with the output, where the build failed)."""
    needs("mkdocs")
    needs("material")
    needs("mkdocstrings_handlers.python")
    out = tmp_path_factory.mktemp("docs") / "site"
    result = run(sys.executable, "-m", "mkdocs", "build", "--strict", "--config-file", ROOT / "mkdocs.yml",
                 "--site-dir", out, env=NO_BANNER)
    return out, result


def test_the_site_builds_strictly(site):
    out, result = site
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-4000:]
    for page in ("index.html", "usage/index.html", "nsd/index.html", "configuration/index.html",
                 "rules/index.html", "developer/index.html", "api/linear/index.html", "images/fig3_subj01.png"):
        assert (out / page).exists(), page
    assert not list(out.rglob("*.py")), "the generators are not part of the site"
    # the API reference is made from the docstrings
    api = (out / "api/linear/index.html").read_text()
    assert "sdbrain.linear.ridge" in api and "Settings" in api and "How a ridge model is fitted" in api


def test_the_strict_build_fails_on_a_broken_link(tmp_path):
    """The build above can fail: a copy of the docs with a link to a missing anchor does not build."""
    needs("mkdocs")
    needs("material")
    shutil.copytree(ROOT / "docs", tmp_path / "docs")
    config = yaml.safe_load((ROOT / "mkdocs.yml").read_text().replace("!!python/name:", ""))
    config["plugins"] = ["search"]  # the API pages' reference needs the package: not this test's concern
    config["nav"] = [entry for entry in config["nav"] if "API reference" not in entry]
    config["markdown_extensions"] = ["tables", "admonition", {"toc": {"permalink": True}}]
    shutil.rmtree(tmp_path / "docs/api")
    (tmp_path / "mkdocs.yml").write_text(yaml.safe_dump(config))
    for page in ("index.md", "developer.md"):  # they link to the API pages
        path = tmp_path / "docs" / page
        path.write_text(path.read_text().replace("(api/workflow.md)", "(usage.md)"))
    assert run(sys.executable, "-m", "mkdocs", "build", "--strict", cwd=tmp_path, env=NO_BANNER).returncode == 0
    page = tmp_path / "docs/nsd.md"
    page.write_text(page.read_text() + "\nSee [the weights](usage.md#no-such-section).\n")
    result = run(sys.executable, "-m", "mkdocs", "build", "--strict", cwd=tmp_path, env=NO_BANNER)
    assert result.returncode != 0
    assert "does not contain an anchor '#no-such-section'" in result.stderr


# --- the README ------------------------------------------------------------------------------------------------

def test_the_readme_is_a_front_page():
    text = (ROOT / "README.md").read_text()
    lines = text.splitlines()
    assert len(lines) <= 250, f"README.md has {len(lines)} lines: move the detail to docs/"
    for command in QUICKSTART:
        assert command in lines, f"the Quickstart command changed: {command}"
    begin, end = lines.index("<!-- results-summary:begin -->"), lines.index("<!-- results-summary:end -->")
    assert begin < end
    assert "docs/results.md" in "\n".join(lines[end + 1:end + 4])
    assert "docs/images/fig3_subj01.png" in text and (ROOT / "docs/images/fig3_subj01.png").exists()
    # every page it links to exists
    links = re.findall(r"\]\((docs/[^)#]+)(?:#[^)]*)?\)", text)
    assert {"docs/usage.md", "docs/nsd.md", "docs/configuration.md", "docs/results.md"} <= set(links)
    assert not [link for link in links if not (ROOT / link).exists()]


# --- the site in a browser -------------------------------------------------------------------------------------

class Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(site):
    out, result = site
    assert result.returncode == 0, result.stderr[-3000:]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), functools.partial(Quiet, directory=str(out)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/"
    server.shutdown()
    server.server_close()


FIGURE = "return Array.from(document.images).filter(i => i.src.endsWith('images/fig3_subj01.png'))"
LOADED = FIGURE + ".every(i => i.complete) && document.readyState === 'complete'"
NAV = ("return Array.from(document.querySelectorAll('nav.md-nav--primary .md-nav__link'))"
       ".filter(a => a.offsetParent !== null).map(a => a.textContent.trim())")


@pytest.mark.skipif(bool(MISSING), reason=MISSING)
def test_chromium_shows_the_site_with_its_navigation_and_fig3(served, tmp_path):
    driver = chromium(window="1400,1000")
    try:
        driver.get(served + "index.html")
        deadline = time.monotonic() + 60
        while not driver.execute_script(LOADED):
            assert time.monotonic() < deadline, "the home page did not finish loading in 60 s"
            time.sleep(0.5)
        widths = driver.execute_script(FIGURE + ".map(i => i.naturalWidth)")
        nav = driver.execute_script(NAV)
        title = driver.title
        shot = tmp_path / "docs.png"
        driver.save_screenshot(str(shot))
    finally:
        driver.quit()
    shutil.copyfile(shot, SCREENSHOT_COPY)
    assert widths and all(w > 0 for w in widths), f"Fig. 3 did not render: natural widths {widths}"
    assert title.startswith("sdbrain")
    for page in ("Running the workflow", "Running on NSD", "Configuration", "Rules", "For developers",
                 "Workflow layer"):
        assert page in nav, f"the navigation does not show {page}: {nav}"
    pixels = np.asarray(Image.open(shot).convert("RGB")).reshape(-1, 3).astype(int)
    assert len(np.unique(pixels // 32, axis=0)) > 20, "the screenshot is nearly one colour"
