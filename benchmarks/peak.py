"""Peak memory of a block of code: anonymous resident memory sampled in a thread.

Anonymous memory (RssAnon) is what the process allocated itself; pages of memory-mapped
files (the betas) are left out, as the kernel can drop them at will. The peak is taken
above the value on entry, so what was loaded before does not count, and a peak reached
earlier in the process's life (which ru_maxrss would report) does not either.
"""
from __future__ import annotations

import json
import subprocess
import sys
import threading
import time


def anon_mib() -> float:
    with open("/proc/self/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("RssAnon")) / 1024


class Peak:
    """``with Peak() as peak: ...`` then ``peak.mib``: the largest increase seen, every 2 ms."""

    def __enter__(self):
        self.start = self.top = anon_mib()
        self.running = True
        self.thread = threading.Thread(target=self._sample, daemon=True)
        self.thread.start()
        return self

    def _sample(self):
        while self.running:
            self.top = max(self.top, anon_mib())
            time.sleep(0.002)

    def __exit__(self, *exc):
        self.running = False
        self.thread.join()
        self.top = max(self.top, anon_mib())

    @property
    def mib(self) -> float:
        return self.top - self.start


def in_fresh_process(script: str, *args) -> dict:
    """Run ``script --child args`` in a new Python process (so nothing measured before
    counts) and return the JSON object its last output line holds."""
    result = subprocess.run([sys.executable, script, "--child", *map(str, args)], capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(result.stderr[-3000:])
    return json.loads(result.stdout.splitlines()[-1])
