"""Seconds per image of the net alone in each execution mode, against the CPU's matmul peak.

    python benchmarks/stylize_net_modes.py [--checkpoint ...] [--style NAME] [--sizes 1024x1024 768x512 1536x1024]

Modes: eager fp32, eager bf16 + channels-last, and the compiled package (`fst.stylize.compiled`,
bf16 where native; built into a temporary cache first, its build and load times printed). The
net's FLOPs are counted by `torch.utils.flop_counter`; each mode's share is of the 2048^3 matmul peak
of its precision (`fst.device.matmul_peaks`; bf16 modes against fp32's where bf16 is not native), and
the first line names the CPU, its ISA and those peaks (`--cpu`: that line only).
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

from fst.device import cpu_line, matmul_peaks, resolve_precision
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, default=checkpoints_dir() / "six_paintings.safetensors")
    parser.add_argument("--style", default="starry_night", help="the style of --checkpoint to run")
    parser.add_argument("--sizes", nargs="+", default=["1024x1024", "768x512", "1536x1024"], help="WxH")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu", action="store_true", help="print the CPU line (model, ISA, matmul peaks) and exit")
    args = parser.parse_args()
    peaks = matmul_peaks()
    print(cpu_line(peaks), flush=True)
    if args.cpu:
        return
    net, _ = load_stylizer(args.checkpoint, style={args.style: 1.0})  # folded into a plain TransformerNet
    device = torch.device("cpu")
    precision = resolve_precision("auto", device)
    print(f"torch {torch.__version__}")
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

            modes = {  # name: (run, precision)
                "eager fp32": (lambda image=image: net(image), "fp32"),
                "eager bf16 channels-last": (eager_bf16, "bf16"),
                f"compiled package {precision}": (lambda image=image: package(net.pad(image)), precision),
            }
            for name, (function, mode_precision) in modes.items():
                with torch.no_grad():
                    seconds = best_seconds(function, args.repeats)
                peak_name = mode_precision if mode_precision in peaks else "fp32"
                share = flops / seconds / peaks[peak_name]
                print(
                    f"{size}: {name}: {seconds:.3f} s per image "
                    f"({flops / 1e9:.0f} GFLOP, {share:.0%} of {peak_name} peak)"
                )


if __name__ == "__main__":
    main()
