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


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    return bool({"avx512_bf16", "amx_bf16"} & cpu_info()[1])


def training_precision(accelerator: str) -> str:
    """Lightning's fastest safe precision for `accelerator` ("cpu", "gpu", "cuda" or "auto").

    bf16 autocast where the hardware computes bf16 natively (a bf16 GPU, an AVX512-BF16 or AMX
    CPU); elsewhere fp16 on older GPUs and fp32 on CPUs: emulated bf16 on an AVX2-only CPU made one
    256-px step ~20x slower than fp32.
    """
    on_gpu = accelerator in ("gpu", "cuda") or (accelerator == "auto" and torch.cuda.is_available())
    if on_gpu:
        return "bf16-mixed" if not torch.cuda.is_available() or torch.cuda.is_bf16_supported() else "16-mixed"
    return "bf16-mixed" if cpu_has_bf16() else "32-true"


def resolve_precision(precision: str, device: torch.device) -> str:
    """Inference precision; `auto`: bf16 where it is fast (output > 40 dB PSNR against fp32), fp32 elsewhere."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"
