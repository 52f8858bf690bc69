"""What every job gets from ``sdbrain.workflow.job.run``: its stderr in its log, exactly its
declared threads, and a clear stop when it was given a GPU that torch cannot use.

The first two run tiny Snakefiles (script rules, as the workflow's) with Snakemake itself.
"""
import json
import os
import subprocess
import sys
import textwrap

import pytest

from conftest import ROOT

SCRIPT_HEAD = "from sdbrain.errors import InputError\nfrom sdbrain.workflow import job\nfrom sdbrain.workflow.logs import setup\n"


def run_snakefile(tmp_path, rules: str, scripts: dict[str, str], *args):
    (tmp_path / "Snakefile").write_text(textwrap.dedent(rules))
    for name, body in scripts.items():
        (tmp_path / name).write_text(SCRIPT_HEAD + textwrap.dedent(body))
    # script jobs import the package from this checkout
    env = {**os.environ, "PYTHONPATH": str(ROOT / "workflow")}
    return subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--keep-going", *args],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)


NOISY = """
import os
import warnings
from tqdm import tqdm

def main():
    log = setup(snakemake.log[0])
    log.info("logger line")
    warnings.warn("a library warning")
    for _ in tqdm(range(3), desc="a loop"):
        pass
    os.write(2, b"a write of C code to fd 2\\n")
    if snakemake.params.fail == "bug":
        raise ValueError("a bug")
    if snakemake.params.fail == "user":
        raise InputError("config key 'x': a user error")
    open(snakemake.output[0], "w").close()

job.run(main, snakemake)
"""


def test_a_jobs_stderr_lands_in_its_log(tmp_path):
    rules = """
    rule all:
        input: "ok.txt", "bug.txt", "user.txt"
    rule noisy:
        output: "{case}.txt"
        params: fail=lambda w: w.case
        log: "logs/{case}.log"
        script: "noisy.py"
    """
    result = run_snakefile(tmp_path, rules, {"noisy.py": NOISY})
    assert result.returncode != 0  # two of the three jobs fail
    logs = {case: (tmp_path / f"logs/{case}.log").read_text() for case in ("ok", "bug", "user")}
    for case, text in logs.items():
        assert "rule noisy: 1 thread(s), gpu resource 0, host" in text.splitlines()[0], case
        assert text.count("INFO logger line") == 1, case  # once: the logger writes to stderr, stderr to the log
        assert "UserWarning: a library warning" in text, case
        assert "a loop: 100%" in text and "3/3" in text, case
        assert "a write of C code to fd 2" in text, case
    assert "Traceback (most recent call last)" in logs["bug"] and "ValueError: a bug" in logs["bug"]
    assert logs["user"].rstrip().endswith("ERROR: config key 'x': a user error")
    assert logs["user"].count("ERROR:") == 1 and "Traceback" not in logs["user"]
    assert "Traceback" not in logs["ok"] and "ERROR" not in logs["ok"]
    # and the terminal (or a SLURM output file) still gets stderr
    assert "a write of C code to fd 2" in result.stderr and "ValueError: a bug" in result.stderr
    assert (tmp_path / "ok.txt").exists() and not (tmp_path / "bug.txt").exists()


THREADS = """
import json
{torch_at_top}

def main():
    import torch
    from threadpoolctl import threadpool_info
    import numpy as np
    np.ones((200, 200)) @ np.ones((200, 200))
    torch.ones(200, 200) @ torch.ones(200, 200)
    pools = sorted({{(p["internal_api"], p["num_threads"]) for p in threadpool_info()}})
    with open(snakemake.output[0], "w") as out:
        json.dump({{"intra": torch.get_num_threads(), "inter": torch.get_num_interop_threads(), "pools": pools}}, out)

job.run(main, snakemake)
"""


def test_a_job_uses_exactly_its_declared_threads(tmp_path):
    """torch intra- and inter-op and every BLAS/OpenMP pool: 1 thread for a threads: 1 rule, 2 for
    threads: 2, whether the script imports torch at the top or inside a function."""
    rules = """
    rule all:
        input: "one.json", "two.json"
    rule one:
        output: "one.json"
        threads: 1
        log: "logs/one.log"
        script: "late.py"
    rule two:
        output: "two.json"
        threads: 2
        log: "logs/two.log"
        script: "early.py"
    """
    result = run_snakefile(tmp_path, rules, {"late.py": THREADS.format(torch_at_top=""),
                                             "early.py": THREADS.format(torch_at_top="import torch")})
    assert result.returncode == 0, result.stderr[-3000:]
    for name, n in (("one", 1), ("two", 2)):
        got = json.loads((tmp_path / f"{name}.json").read_text())
        assert got["intra"] == n and got["inter"] == n, (name, got)
        assert got["pools"] and all(threads == n for _, threads in got["pools"]), (name, got)


def test_jobs_start_offline_with_the_allocator_settings_unless_the_user_set_them(monkeypatch):
    from sdbrain.workflow import job
    for name in ("MALLOC_MMAP_THRESHOLD_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("MALLOC_TRIM_THRESHOLD_", "12345")  # the user's own choice stays
    job.prepare_environment()
    names = ["MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"]
    child = subprocess.run([sys.executable, "-c", f"import os; print(*(os.environ[n] for n in {names}))"],
                           capture_output=True, text=True, check=True)
    assert child.stdout.split() == [str(32 * 2**20), "12345", "1", "1"]
    assert "job.prepare_environment()" in (ROOT / "Snakefile").read_text()


def test_torch_threads_set_when_torch_is_imported_later(monkeypatch):
    """limit_threads before ``import torch`` (a fresh interpreter): torch gets them on import."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from sdbrain.workflow import hardware; hardware.limit_threads(1); "
            "assert 'torch' not in sys.modules; import torch; print(torch.get_num_threads(), torch.get_num_interop_threads())")
    env = {k: v for k, v in os.environ.items() if not k.endswith("_NUM_THREADS")}
    out = subprocess.run([sys.executable, "-c", code, str(ROOT / "workflow")], capture_output=True, text=True, env=env,
                         timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["1", "1"]


# --- a job given a GPU that torch cannot use ---

class FakeJob:
    """The parts of Snakemake's ``snakemake`` object that ``job.run`` reads."""
    def __init__(self, tmp_path, gpu, params=None):
        self.rule, self.threads, self.output, self.config = "features", 1, [], {}
        self.resources = {"gpu": gpu}
        self.log = [str(tmp_path / "job.log")]
        self.params = params or {}


def broken_cuda(monkeypatch):
    """torch as on a GPU node whose driver is older than torch's CUDA build."""
    import warnings

    import torch

    def is_available():
        warnings.warn("CUDA initialization: The NVIDIA driver on your system is too old (found version 11040).\n"
                      "Please update your GPU driver", stacklevel=2)
        return False
    monkeypatch.setattr(torch.cuda, "is_available", is_available)
    monkeypatch.setattr(torch.version, "cuda", "12.8")


def run_job(tmp_path, gpu, main, params=None):
    """``job.run(main)`` as a job given ``gpu``: its exit status and log."""
    from sdbrain import machine
    from sdbrain.workflow import job, logs
    try:
        with pytest.raises(SystemExit) as stop:
            job.run(main, FakeJob(tmp_path, gpu, params))
    finally:
        logs.release()
        os.environ.pop(machine.GPU_GIVEN, None)
    return stop.value.code, (tmp_path / "job.log").read_text()


RIDGE = dict(alphas=[1.0, 10.0], folds=2, fit_intercept=True, n_targets_batch=10, backend="auto", voxel_block=10,
             fdr_q=0.05, seed=0, banded={"n_iter": 2, "concentration": [1.0]})
# each job's params: a config section's keys in one dict named as the section
PARAMS = {"sd": {"features": {"device": "auto"}}, "decode": {"decode": RIDGE}, "encode": {"encode": RIDGE},
          "banded": {"encode": RIDGE}}


def fit_on_auto(where: str) -> None:
    """A device choice of each kind of job, from a setting of 'auto': SD's, and the ridge of decode, encode
    and banded encode (each must name its own config key)."""
    import numpy as np

    from sdbrain import devices
    from sdbrain.linear import banded, decode, encode, ridge
    x, ids = np.random.default_rng(0).normal(size=(8, 3)).astype(np.float32), np.arange(8)
    settings = encode.Settings.pick(RIDGE)
    if where == "sd":
        devices.cuda_or_cpu("auto")
    elif where == "decode":
        decode.decode(x, ids, x, ids, x, ids, ridge.Settings.pick(RIDGE))
    elif where == "encode":
        encode.fit_voxels(x, ids, x, x, x, settings)
    else:
        banded.fit_voxels([x, x], ids, [x, x], x, x, settings, banded.Settings.pick(RIDGE["banded"]), 0)


@pytest.mark.parametrize("where, key", [("sd", "features.device"), ("decode", "decode.backend"),
                                        ("encode", "encode.backend"), ("banded", "encode.backend")])
def test_a_job_given_a_gpu_stops_when_torch_cannot_use_it(tmp_path, monkeypatch, where, key):
    broken_cuda(monkeypatch)

    def main():
        fit_on_auto(where)
        raise AssertionError("the job went on on the CPU")

    code, log = run_job(tmp_path, 1, main, PARAMS[where])
    assert code == 1
    errors = [line for line in log.splitlines() if line.startswith("ERROR:")]
    assert len(errors) == 1, log
    line = errors[0]
    assert line.startswith(f"ERROR: config key '{key}': ") and "was given a GPU" in line
    assert "built for CUDA 12.8" in line and "driver on your system is too old (found version 11040)" in line
    assert "Traceback" not in log


def test_an_argument_error_names_the_config_key_that_set_it(tmp_path):
    """The method layer names its argument; the job names the config key: from the one params section that holds
    the argument, from the script's own keys, and as the argument where neither says."""
    from sdbrain.errors import ArgumentError
    from sdbrain.workflow import job

    error = ArgumentError("memory_mb", "500 MB does not hold the design")
    assert str(error) == "argument 'memory_mb': 500 MB does not hold the design"
    assert job.error_line(error, {"encode": {"memory_mb": 500}, "nsd_root": "x"}) == \
        "ERROR: config key 'encode.memory_mb': 500 MB does not hold the design"
    assert job.error_line(ArgumentError("layers", "no module 'x'"), {"features": {}}, {"layers": "features.unet_layers"}) \
        == "ERROR: config key 'features.unet_layers': no module 'x'"
    two = {"features": {"seed": 0}, "reconstruct": {"seed": 0}}
    assert job.error_line(ArgumentError("seed", "bad"), two) == "ERROR: argument 'seed': bad", "ambiguous: as the argument"
    code, log = run_job(tmp_path, 0, lambda: (_ for _ in ()).throw(error), {"encode": {"memory_mb": 500}})
    assert code == 1 and log.splitlines()[-1] == "ERROR: config key 'encode.memory_mb': 500 MB does not hold the design"


def test_auto_and_cpu_stay_on_the_cpu_where_they_should(monkeypatch):
    """Without a GPU given to the job, auto means the CPU; an explicit cpu is honoured on a GPU job."""
    from sdbrain import devices, machine
    from sdbrain.errors import ArgumentError
    from sdbrain.linear import ridge
    broken_cuda(monkeypatch)
    monkeypatch.setenv(machine.GPU_GIVEN, "0")
    assert devices.cuda_or_cpu("auto") == "cpu" and ridge.device("auto") == "cpu"
    monkeypatch.setenv(machine.GPU_GIVEN, "1")
    assert devices.cuda_or_cpu("cpu") == "cpu" and ridge.device("torch") == "cpu"
    with pytest.raises(ArgumentError, match="'cuda:1' was requested") as err:
        devices.cuda_or_cpu("cuda:1")
    assert err.value.argument == "device"
    with pytest.raises(ArgumentError, match="or set it to torch") as err:
        ridge.device("auto")
    assert err.value.argument == "backend"


def test_nvidia_smi_runs_once_for_the_driver_and_the_gpus(tmp_path, monkeypatch):
    """machine.driver (in the CUDA error) and machine.gpus (in every job's host line) share one nvidia-smi run."""
    from sdbrain import machine
    smi, runs = tmp_path / "nvidia-smi", tmp_path / "runs"
    smi.write_text(f"#!/bin/sh\necho run >> {runs}\necho 'NVIDIA H100 80GB HBM3, 550.54.15'\n"
                   "echo 'NVIDIA H100 80GB HBM3, 550.54.15'\n")
    smi.chmod(0o755)
    monkeypatch.setattr(machine.shutil, "which", lambda name: str(smi) if name == "nvidia-smi" else None)
    machine._nvidia_smi.cache_clear()
    try:
        assert machine.driver() == "NVIDIA driver 550.54.15"
        assert machine.gpus() == "GPU NVIDIA H100 80GB HBM3, 550.54.15; NVIDIA H100 80GB HBM3, 550.54.15 (name, driver)"
        assert runs.read_text() == "run\n"
        machine._nvidia_smi.cache_clear()
        monkeypatch.setattr(machine.shutil, "which", lambda name: None)
        assert machine.driver() == "no nvidia-smi on the PATH"
        assert machine.gpus() == "no NVIDIA GPU (no nvidia-smi on the PATH)"
    finally:
        machine._nvidia_smi.cache_clear()


def test_a_finished_job_leaves_its_objects_to_the_exit_uncollected(tmp_path):
    """After a job's main, job.run freezes the objects its imports made, so that Python's garbage
    collections at exit skip them (1.3 s of a toy job's 10); a failed job stops before that."""
    import gc

    from sdbrain import machine
    from sdbrain.errors import InputError
    from sdbrain.workflow import job, logs

    def fail():
        raise InputError("config key 'x': a user error")

    gc.unfreeze()
    try:
        with pytest.raises(SystemExit):
            job.run(fail, FakeJob(tmp_path, 0))
        logs.release()
        assert gc.get_freeze_count() == 0
        job.run(lambda: None, FakeJob(tmp_path, 0))
        assert gc.get_freeze_count() > 10_000, "the process's objects are frozen"
    finally:
        gc.unfreeze()
        logs.release()
        os.environ.pop(machine.GPU_GIVEN, None)


# rules whose scripts only read, gather or summarise tables and arrays: none loads a network
TABLE_RULES = ("split", "stimuli", "features_merge", "reconstruct_manifest", "eval_summary", "validity_controls",
               "validity", "validity_summary", "encode_summary", "encode_compare", "run_config", "run_logs",
               "rate_trials", "rate_analysis")


@pytest.mark.parametrize("rule", TABLE_RULES)
def test_table_rules_import_no_torch(rule):
    """A table-only job pays no torch start-up (2-3 s each): its script's imports load no torch, diffusers,
    transformers or pycortex."""
    import ast
    tree = ast.parse((ROOT / f"workflow/scripts/{rule}.py").read_text())
    imports = "\n".join(ast.unparse(node) for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom)))
    code = imports + "\nimport sys\nprint(sorted({'torch', 'diffusers', 'transformers', 'cortex'} & set(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300,
                         env={**os.environ, "PYTHONPATH": str(ROOT / "workflow")})
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.split("\n")[-2] == "[]", f"{rule} imports {out.stdout.strip()}"
