"""Running one benchmark part in a fresh subprocess, so its peak memory is its own."""

from __future__ import annotations

import json
import resource
import subprocess
import sys

__all__ = ["peak_rss_gib", "run_child"]


def peak_rss_gib() -> float:
    """Peak resident set size of this process, in GiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20


def run_child(module: str, flag: str) -> dict:
    """Run ``python -m module flag`` and parse the JSON object on its last line of output."""
    output = subprocess.run([sys.executable, "-m", module, flag], capture_output=True, text=True, check=True)
    return json.loads(output.stdout.strip().splitlines()[-1])
