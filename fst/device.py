"""Devices: names from the command line ("auto": the first GPU if there is one, else the CPU) and
what this machine's CPU is (for precision choices and compiled-code cache keys)."""

from __future__ import annotations

import contextlib
import functools
import platform
import time
from collections.abc import Iterator
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


@contextlib.contextmanager
def intra_op_threads(count: int) -> Iterator[None]:
    """Run torch's CPU ops on `count` threads inside the block (of the calling thread), then restore."""
    previous = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(previous)


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


def cpu_isa(flags: frozenset[str] | None = None) -> str:
    """The richest matmul instruction set of this CPU (or of `flags`): amx, avx512_bf16, avx512, avx2 or
    `none`; it decides what the net can reach (bf16 is native only from avx512_bf16)."""
    flags = cpu_info()[1] if flags is None else flags
    for isa, needs in (("amx", "amx_bf16"), ("avx512_bf16", "avx512_bf16"), ("avx512", "avx512f"), ("avx2", "avx2")):
        if needs in flags:
            return isa
    return "none"


def matmul_peak(dtype: torch.dtype, side: int = 2048, repeats: int = 5) -> float:
    """FLOP/s of the best of `repeats` `side`^3 matmuls (after one untimed): what the net's convolutions
    can reach at most. Best, not median: on a shared machine the best is the least disturbed."""
    a, b = torch.rand(side, side, dtype=dtype), torch.rand(side, side, dtype=dtype)
    a @ b  # the first call sets up the kernel
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        a @ b
        best = min(best, time.perf_counter() - start)
    return 2 * side**3 / best


def matmul_peaks(side: int = 2048) -> dict[str, float]:
    """FLOP/s peaks by precision: fp32, and bf16 only where native (emulated bf16 is slower than fp32)."""
    peaks = {"fp32": matmul_peak(torch.float32, side)}
    if cpu_has_bf16():
        peaks["bf16"] = matmul_peak(torch.bfloat16, side)
    return peaks


def cpu_line(peaks: dict[str, float], side: int = 2048) -> str:
    """One line for a benchmark's start, naming the machine its figures belong to."""
    model, _ = cpu_info()
    gflops = ", ".join(f"{precision} {flops / 1e9:.0f}" for precision, flops in peaks.items())
    return f"CPU: {model}; ISA {cpu_isa()}; {torch.get_num_threads()} threads; {side}^3 matmul peak GFLOP/s: {gflops}"
