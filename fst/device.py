"""Devices: names from the command line ("auto": the first GPU if there is one, else the CPU) and
what this machine's CPU is (for precision choices and compiled-code cache keys)."""

from __future__ import annotations

import functools
import platform
from pathlib import Path

import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


@functools.cache
def cpu_info() -> tuple[str, frozenset[str]]:
    """(model name, instruction-set flags) of this CPU, read once; no flags where not Linux."""
    try:
        lines = Path("/proc/cpuinfo").read_text().splitlines()
    except OSError:
        return f"{platform.machine()} {platform.processor()}", frozenset()
    fields = {key.strip(): value.strip() for key, value in (line.split(":", 1) for line in lines if ":" in line)}
    return fields.get("model name", platform.machine()), frozenset(fields.get("flags", "").split())
