"""Benchmarks, each runnable as `uv run python -m bench.<name>`; see bench/README.md.

Shared helpers: a description of the machine and its load, so every printed result says what
it was measured on."""

from __future__ import annotations

import os
import platform
from pathlib import Path


def load_average() -> str:
    """The 1/5/15-minute load averages (other processes share the CPU while we measure)."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "n/a"


def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine_summary() -> str:
    return (
        f"{os.cpu_count()} cpu ({cpu_model()}), {platform.system()} {platform.release()}, "
        f"Python {platform.python_version()}"
    )
