"""A handmade trial set and a rating server run as a subprocess, for the rating tests."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from conftest import ROOT
from sdbrain.rate import trials as rate_trials

PYTHON_ENV = {**os.environ, "PYTHONPATH": str(ROOT / "workflow"), "OMP_NUM_THREADS": "1"}


def make_trial_set(root: Path, subjects=("subj01",), methods=("z", "c"), n_images=10, n_samples=2, per_rater=None,
                   size=12, noise=60.0, seed=0) -> Path:
    """A trial set built by the real builder from handmade reconstructions: each is its original
    plus noise, laid out as results/reconstruct/{subject}/{method}/chunk0/{id}_{sample}.png."""
    rng = np.random.default_rng(seed)
    ids = list(range(101, 101 + n_images))
    originals = {i: rng.integers(0, 256, (size, size, 3), dtype=np.uint8) for i in ids}
    manifests = {}
    for subject in subjects:
        for method in methods:
            folder = root / "results/reconstruct" / subject / method / "chunk0"
            folder.mkdir(parents=True)
            rows = []
            for i in ids:
                for s in range(n_samples):
                    pixels = np.clip(originals[i] + rng.normal(0, noise, originals[i].shape), 0, 255).astype(np.uint8)
                    path = folder / f"{i}_{s}.png"
                    Image.fromarray(pixels).save(path)
                    rows.append({"nsd_id": i, "sample": s, "path": str(path)})
            manifests[(subject, method)] = pd.DataFrame(rows)
    rate_trials.build(manifests, originals, root / "rate", None, per_rater, seed)
    return root / "rate" / "trials.tsv"


def rate_cli(*args, check=True) -> subprocess.CompletedProcess:
    result = subprocess.run([sys.executable, "-m", "sdbrain.rate.cli", *map(str, args)], capture_output=True,
                            text=True, env=PYTHON_ENV, timeout=300)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def add_rater(trials: Path, db: Path, name: str) -> str:
    """The new rater's token (from the link add-rater prints)."""
    return rate_cli("add-rater", name, "--trials", trials, "--db", db).stdout.strip().rsplit("/r/", 1)[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """`python -m sdbrain.rate.cli serve` on a free localhost port."""

    def __init__(self, trials: Path, db: Path, port: int | None = None):
        self.trials, self.db, self.port = trials, db, port or free_port()
        self.proc = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> Server:
        self.proc = subprocess.Popen([sys.executable, "-m", "sdbrain.rate.cli", "serve", "--trials", str(self.trials),
                                      "--db", str(self.db), "--port", str(self.port)], env=PYTHON_ENV,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.proc.stderr.read().decode()}")
            try:
                urllib.request.urlopen(self.url + "/", timeout=1)
            except urllib.error.HTTPError:
                return self  # it answers (404 at /)
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("server did not start in 60 s")

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        """A clean stop (SIGINT, like Ctrl-C); the exit status."""
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            self.proc.wait(timeout=30)
        self.proc.stderr.close()
        return self.proc.returncode

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def request(url: str, method: str = "GET", body=None, raw: bytes | None = None, headers: dict | None = None,
            with_headers: bool = False):
    """(status, body) of one HTTP request, with ``with_headers`` also its headers; a JSON body is sent as such
    (Content-Type application/json unless ``headers`` say otherwise)."""
    data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
    req = urllib.request.Request(url, data=data, method=method,
                                 headers={"Content-Type": "application/json", **(headers or {})})
    try:
        with urllib.request.urlopen(req, timeout=30) as reply:
            status, content, sent = reply.status, reply.read(), reply.headers
    except urllib.error.HTTPError as err:
        status, content, sent = err.code, err.read(), err.headers
    return (status, content, sent) if with_headers else (status, content)
