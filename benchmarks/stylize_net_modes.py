"""Seconds per image of the net alone in each execution mode, against the CPU's bf16 matmul peak.

    python benchmarks/stylize_net_modes.py [--checkpoint ...] [--style NAME] [--sizes 1024x1024 768x512 1536x1024]

Modes: eager fp32, eager bf16 + channels-last, and the compiled package (`fst.stylize.compiled`,
bf16 where native; built into a temporary cache first, its build and load times printed). The
net's FLOPs are counted by `torch.utils.flop_counter`; the peak is a 4096^3 bf16 matmul.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from fst.device import resolve_precision
from fst.resources import checkpoints_dir
from fst.stylize import compiled
from fst.stylize.loading import load_stylizer


def best_seconds(function: Callable[[], object], repeats: int) -> float:
    function()  # the first call at a size sets up kernels: not counted
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return min(times)


def matmul_peak(dtype: torch.dtype, side: int = 4096) -> float:
    a, b = torch.rand(side, side, dtype=dtype), torch.rand(side, side, dtype=dtype)
    return 2 * side**3 / best_seconds(lambda: a @ b, 10)  # best of 10: this shared VM is noisy


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=checkpoints_dir() / "six_paintings.safetensors")
    parser.add_argument("--style", default="starry_night", help="the style of --checkpoint to run")
    parser.add_argument("--sizes", nargs="+", default=["1024x1024", "768x512", "1536x1024"], help="WxH")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    net, _ = load_stylizer(args.checkpoint, style={args.style: 1.0})  # folded into a plain TransformerNet
    device = torch.device("cpu")
    precision = resolve_precision("auto", device)
    peak = matmul_peak(torch.bfloat16)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads; bf16 matmul peak {peak / 1e9:.0f} GFLOP/s")
    with tempfile.TemporaryDirectory() as cache:
        os.environ["FST_CACHE_DIR"] = cache
        start = time.perf_counter()
        compiled.load(net, precision, device, build_if_missing=True)
        build = time.perf_counter() - start
        start = time.perf_counter()
        package = compiled.load(net, precision, device, build_if_missing=False)
        print(f"compiled package ({precision}): built in {build:.0f} s, loaded in {time.perf_counter() - start:.3f} s")
        net_cl = load_stylizer(args.checkpoint, style={args.style: 1.0})[0].to(memory_format=torch.channels_last)
        for size in args.sizes:
            width, height = (int(side) for side in size.split("x"))
            image = torch.rand(1, 3, height, width)
            with FlopCounterMode(display=False) as counter, torch.no_grad():
                net(image)
            flops = counter.get_total_flops()

            def eager_bf16(image: torch.Tensor = image) -> torch.Tensor:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return net_cl(image.contiguous(memory_format=torch.channels_last))

            modes = {
                "eager fp32": lambda image=image: net(image),
                "eager bf16 channels-last": eager_bf16,
                f"compiled package {precision}": lambda image=image: package(net.pad(image)),
            }
            for name, function in modes.items():
                with torch.no_grad():
                    seconds = best_seconds(function, args.repeats)
                share = flops / seconds / peak
                print(f"{size}: {name}: {seconds:.3f} s per image ({flops / 1e9:.0f} GFLOP, {share:.0%} of bf16 peak)")


if __name__ == "__main__":
    main()
