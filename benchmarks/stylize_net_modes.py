"""Seconds per image of the net alone in each execution mode, and what compiling costs.

    python benchmarks/stylize_net_modes.py --checkpoint checkpoints/starry_night.safetensors

Modes: eager fp32, eager bf16 + channels-last, torch.compile(dynamic=False) and
torch.compile(dynamic=True), both bf16 + channels-last. The dynamic graph is then timed on a
second size to show whether a new size recompiles. Decides `--compile`'s default for mixed folders.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from pathlib import Path

import torch

from fst.models.norms import MaskedNet
from fst.stylize.buckets import valid_mask
from fst.stylize.loading import load_stylizer


def seconds_per_call(function: Callable[[], object], repeats: int) -> float:
    start = time.perf_counter()
    for _ in range(repeats):
        function()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/starry_night.safetensors"))
    parser.add_argument("--size", type=int, nargs=2, default=[1024, 1024], help="height width")
    parser.add_argument("--other-size", type=int, nargs=2, default=[896, 1152], help="second size, dynamic")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--modes", nargs="+", default=["static", "static, inductor freezing", "dynamic"])
    args = parser.parse_args()
    net, _ = load_stylizer(args.checkpoint)
    net.eval()
    x = torch.rand(1, 3, *args.size)
    x_cl = x.contiguous(memory_format=torch.channels_last)
    net_cl = net.to(memory_format=torch.channels_last)
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, size {args.size}")

    def run(model: Callable, image: torch.Tensor, bf16: bool) -> Callable[[], object]:
        def call() -> object:
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(image)

        return call

    net_fp32 = load_stylizer(args.checkpoint)[0].eval()
    if "eager" in args.modes:
        run(net_fp32, x, False)()  # warm-up (oneDNN primitive caches)
        print(f"eager fp32: {seconds_per_call(run(net_fp32, x, False), args.repeats):.3f} s/img", flush=True)
        run(net_cl, x_cl, True)()
        print(f"eager bf16 CL: {seconds_per_call(run(net_cl, x_cl, True), args.repeats):.3f} s/img", flush=True)
    mask = valid_mask(*args.size, tuple(args.size))
    masked = MaskedNet(net_cl)
    modes = {
        "static": (net_cl, False, False),
        "static, inductor freezing": (net_cl, False, True),
        "masked norm (buckets), freezing": (lambda image: masked(image, mask), False, True),
        "dynamic": (net_cl, True, False),
    }
    for label, (model, dynamic, freezing) in modes.items():
        if label not in args.modes:
            continue
        torch._dynamo.reset()
        torch._inductor.config.freezing = freezing
        compiled = torch.compile(model, dynamic=dynamic)
        start = time.perf_counter()
        run(compiled, x_cl, True)()
        first = time.perf_counter() - start
        rate = seconds_per_call(run(compiled, x_cl, True), args.repeats)
        print(f"compile {label}: {rate:.3f} s/img, first call (compile) {first:.1f} s", flush=True)
        if dynamic:
            other = torch.rand(1, 3, *args.other_size).contiguous(memory_format=torch.channels_last)
            start = time.perf_counter()
            run(compiled, other, True)()
            first = time.perf_counter() - start
            rate = seconds_per_call(run(compiled, other, True), args.repeats)
            print(f"  dynamic, {args.other_size}: {rate:.3f} s/img, first call {first:.1f} s")


if __name__ == "__main__":
    main()
