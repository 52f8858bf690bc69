"""A single-node SLURM on localhost for the SLURM test: munge, controller and node daemon.

Everything (configuration, munge key and socket, state, logs, pid files) lives in one
directory; ``stop`` ends only the daemons started here, by their pid files. The node
advertises one GPU as a count-only generic resource, so that GPU rules go through
SLURM's GPU scheduling as on a cluster (the jobs themselves run on the CPU).

The scheduler looks at pending jobs every 0.1 s instead of every 2 s (SLURM's default
``sched_min_interval``): the toy DAG's jobs take seconds, and most of them wait on the
one before. The configuration is found through SLURM_CONF, not /etc/slurm. Inside a job the
slurm-jobstep plugin drops SLURM_* variables before its nested ``srun``, so the
cluster's PATH starts with an ``srun`` wrapper that sets SLURM_CONF again (a real
cluster keeps its configuration where every client finds it).
"""
from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from pathlib import Path

import yaml

DAEMONS = ("munged", "slurmctld", "slurmd")
PARTITION = "local"


def missing() -> str | None:
    """Why SLURM cannot run here, or None."""
    for tool in (*DAEMONS, "sbatch", "squeue", "scancel", "sinfo", "mungekey"):
        if shutil.which(tool) is None and not Path(f"/usr/sbin/{tool}").exists():
            return f"{tool} not found (Debian: apt-get install slurm-wlm munge)"
    if os.geteuid() != 0:
        return "the test cluster's daemons need root (slurmd runs jobs as their user)"
    return None


def _tool(name: str) -> str:
    return shutil.which(name) or f"/usr/sbin/{name}"


def _memory_mb() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) // 1024 - 2048
    raise RuntimeError("no MemTotal in /proc/meminfo")


def config_text(d: Path, host: str, cpus: int, memory_mb: int) -> str:
    return f"""ClusterName=sdbrain-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={d}/munge.socket
CredType=cred/munge
SlurmctldPort=16817
SlurmdPort=16818
StateSaveLocation={d}/state
SlurmdSpoolDir={d}/spool
SlurmctldPidFile={d}/slurmctld.pid
SlurmdPidFile={d}/slurmd.pid
SlurmctldLogFile={d}/slurmctld.log
SlurmdLogFile={d}/slurmd.log
ProctrackType=proctrack/pgid
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=none
SchedulerType=sched/builtin
SchedulerParameters=sched_min_interval=100000
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
GresTypes=gpu
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
ReturnToService=2
SlurmdTimeout=60
InactiveLimit=0
KillWait=5
NodeName={host} CPUs={cpus} RealMemory={memory_mb} Gres=gpu:1 State=UNKNOWN
PartitionName={PARTITION} Nodes={host} Default=YES MaxTime=INFINITE State=UP
"""


class Cluster:
    def __init__(self, directory: Path):
        self.dir = Path(directory)
        self.env = {**os.environ, "SLURM_CONF": str(self.dir / "slurm.conf"),
                    "PATH": f"{self.dir / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"}

    def start(self, timeout: float = 60) -> None:
        d, host = self.dir, socket.gethostname()
        for sub in ("state", "spool", "munge", "bin"):
            (d / sub).mkdir(parents=True, exist_ok=True)
        srun = d / "bin" / "srun"
        srun.write_text(f'#!/bin/sh\nSLURM_CONF={d}/slurm.conf exec {_tool("srun")} "$@"\n')
        srun.chmod(0o755)
        (d / "slurm.conf").write_text(config_text(d, host, os.cpu_count() or 1, _memory_mb()))
        (d / "gres.conf").write_text(f"AutoDetect=off\nNodeName={host} Name=gpu File=/dev/null\n")
        key = d / "munge" / "munge.key"
        subprocess.run([_tool("mungekey"), "--create", f"--keyfile={key}"], check=True, capture_output=True)
        key.chmod(0o600)
        subprocess.run([_tool("munged"), "--force", f"--socket={d}/munge.socket", f"--key-file={key}",
                        f"--pid-file={d}/munged.pid", f"--log-file={d}/munged.log", f"--seed-file={d}/munge/seed"],
                       check=True, capture_output=True, env=self.env)
        subprocess.run([_tool("slurmctld"), "-f", str(d / "slurm.conf")], check=True, capture_output=True, env=self.env)
        subprocess.run([_tool("slurmd"), "-f", str(d / "slurm.conf")], check=True, capture_output=True, env=self.env)
        deadline = time.time() + timeout
        while time.time() < deadline:
            out = subprocess.run(["sinfo", "-h", "-N", "-o", "%t"], capture_output=True, text=True, env=self.env)
            if out.returncode == 0 and out.stdout.strip() in ("idle", "mix", "alloc"):
                return
            time.sleep(1)
        raise RuntimeError(f"the test SLURM node did not come up within {timeout} s: {self.logs()}")

    def logs(self) -> str:
        return "\n".join(f"--- {p.name}\n{p.read_text()[-2000:]}" for p in sorted(self.dir.glob("*.log")))

    def stop(self) -> None:
        for daemon in reversed(DAEMONS):
            pid_file = self.dir / f"{daemon}.pid"
            if not pid_file.exists():
                continue
            pid = int(pid_file.read_text().split()[0])
            try:
                os.kill(pid, signal.SIGTERM)
            except ProcessLookupError:
                continue
            for _ in range(50):
                try:
                    os.kill(pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(0.1)
            else:
                os.kill(pid, signal.SIGKILL)


def local_profile(root: Path, directory: Path) -> str:
    """The workflow's profiles/slurm (``root``: the repository) with its EDIT values set for the local
    cluster and short waits for a test, written to ``directory``."""
    profile = yaml.safe_load((root / "profiles/slurm/config.yaml").read_text())
    profile["default-resources"]["slurm_partition"] = PARTITION
    del profile["default-resources"]["slurm_account"]
    profile["slurm-no-account"] = True
    for resources in profile["set-resources"].values():
        resources["slurm_partition"] = PARTITION
        # the test cluster's node has no GPU: a job given one would stop at once (sdbrain.workflow.hardware)
        resources.pop("gpu", None)
        resources.pop("cpus_per_gpu", None)
    profile.update({"latency-wait": 5, "slurm-init-seconds-before-status-checks": 2, "seconds-between-status-checks": 1})
    # the local runs compared with it have no GPU, so their GPU rules run with one thread; threads can
    # change float rounding, and the comparison is bit for bit
    del profile["set-threads"]
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "config.yaml").write_text(yaml.safe_dump(profile))
    return str(directory)
