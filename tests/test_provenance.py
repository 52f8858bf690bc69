"""What the report says about a run (provenance, time per rule) and the files that say what
the project is (config/README.md, LICENSE, CITATION.cff)."""
import re

import pytest
import yaml

from conftest import ROOT
from sdbrain.errors import InputError
from sdbrain.workflow import provenance, rule_times


def test_provenance_names_commit_versions_and_machine(tmp_path):
    record = provenance.record(ROOT)
    assert re.fullmatch(r"[0-9a-f]{7,}(-dirty)?|.+-g[0-9a-f]{7,}(-dirty)?", record["workflow_commit"])
    assert set(record["versions"]) == {"python", "torch", "torchvision", "diffusers", "transformers", "himalaya",
                                       "pycortex", "snakemake", "numpy"}
    import numpy
    assert record["versions"]["numpy"] == numpy.__version__
    assert "CPU" in record["machine"]
    assert provenance.commit(tmp_path) == "unknown"  # outside git


BENCH_HEAD = "s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"


def test_rule_times_sums_each_rules_benchmark_files(tmp_path):
    """The report's per-rule table, from the benchmark files the run's Snakemake logs name."""
    (tmp_path / ".snakemake/log").mkdir(parents=True)
    (tmp_path / ".snakemake/log/run.snakemake.log").write_text(
        "localrule ingest:\n    output: a\n    benchmark: logs/benchmarks/ingest_1.tsv\n\n"
        "rule ingest:\n    benchmark: logs/benchmarks/ingest_2.tsv\n\n"
        "localrule split:\n    benchmark: logs/benchmarks/split.tsv\n\n"
        "localrule run_logs:\n    benchmark: logs/benchmarks/run_logs.tsv\n")  # still running: no file yet
    bench = tmp_path / "logs/benchmarks"
    bench.mkdir(parents=True)
    for name, wall, cpu in (("ingest_1", 10.0, 8.0), ("ingest_2", 30.0, 20.0), ("split", 2.5, 1.0)):
        (bench / f"{name}.tsv").write_text(BENCH_HEAD + f"{wall}\t0:00:10\t1\t1\t1\t1\t0\t0\t50\t{cpu}\n")
    table = rule_times.markdown(rule_times.per_rule(rule_times.jobs(tmp_path)), None)
    lines = table.splitlines()
    assert lines[2] == "| ingest | 2 | 40.0 | 28.0 | 30.0 |"  # slowest rule first
    assert lines[3] == "| split | 1 | 2.5 | 1.0 | 2.5 |"
    assert lines[4] == "| all rules | 3 | 42.5 | 29.0 | |"
    with pytest.raises(InputError, match="no benchmark file"):
        rule_times.jobs(tmp_path / "nothing")


def test_config_readme_explains_every_top_level_key():
    text = (ROOT / "config/README.md").read_text()
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", text, flags=re.M))
    for name in ("config.yaml", "nsd.yaml"):
        keys = set(yaml.safe_load((ROOT / "config" / name).read_text()))
        assert keys <= documented, f"config/README.md lacks {sorted(keys - documented)} of config/{name}"
    schema = set(yaml.safe_load((ROOT / "config/schema.yaml").read_text())["properties"])
    assert documented == schema, "config/README.md and config/schema.yaml name different sections"
    assert "configuration reference" in text and "docs/configuration.md" in text and "schema.yaml" in text


def test_license_and_citation():
    assert (ROOT / "LICENSE").read_text().startswith("MIT License")
    assert 'license = { text = "MIT" }' in (ROOT / "pyproject.toml").read_text()
    cff = yaml.safe_load((ROOT / "CITATION.cff").read_text())
    assert cff["cff-version"] == "1.2.0" and cff["license"] == "MIT"
    for key in ("message", "title", "authors", "type"):
        assert cff[key], key
    refs = {ref["title"]: ref for ref in cff["references"]}
    paper = refs["High-resolution image reconstruction with latent diffusion models from human brain activity"]
    assert paper["type"] == "conference-paper" and paper["year"] == 2023 and (paper["start"], paper["end"]) == (14453, 14463)
    assert [a["family-names"] for a in paper["authors"]] == ["Takagi", "Nishimoto"]
    nsd = refs["A massive 7T fMRI dataset to bridge cognitive neuroscience and artificial intelligence"]
    assert nsd["doi"] == "10.1038/s41593-021-00962-x" and nsd["journal"] == "Nature Neuroscience"
    assert (nsd["volume"], nsd["start"], nsd["end"], nsd["year"]) == (25, 116, 126, 2022)
    for ref in cff["references"]:
        assert ref["authors"] and all("family-names" in a and "given-names" in a for a in ref["authors"])
