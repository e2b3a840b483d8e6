"""Issue 22's int8 route, measured: PT2E static int8 (torchao's x86 Inductor quantizer) against the
same net compiled in fp32 and in bf16 autocast. The net alone on one photo, PSNR against eager fp32.

    pip install torchao    # not a dependency of fst: this route was measured and not taken
    python benchmarks/int8_route.py [--checkpoint FILE] [--style NAME] [--size 1024]

Calibration: four of the shared content photos; the timed photo is a fifth (tubingen.jpg).
Prints the CPU line, then seconds (median of 3 after 2 warm-up calls) and PSNR per mode.
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from fst.checkpoint import load_net
from fst.device import cpu_line, matmul_peaks
from fst.io.images import load_tensor
from fst.resize import resize
from fst.resources import assets_dir, checkpoints_dir
from fst.stylize.tiling import psnr

CALIBRATION = ["amber", "brad_pitt", "golden_gate", "stata"]
TIMED = "tubingen"


def median_seconds(function: Callable[[], object], repeats: int = 3) -> float:
    function(), function()  # warm-up: compilation and first-call allocations
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        function()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def quantized(net: torch.nn.Module, example: torch.Tensor, calibration: list[torch.Tensor]) -> torch.nn.Module:
    """The net exported, annotated by the x86 Inductor quantizer, calibrated and converted to int8."""
    from torchao.quantization.pt2e.quantize_pt2e import convert_pt2e, prepare_pt2e
    from torchao.quantization.pt2e.quantizer import x86_inductor_quantizer as x86

    quantizer = x86.X86InductorQuantizer().set_global(x86.get_default_x86_inductor_quantization_config())
    prepared = prepare_pt2e(torch.export.export(net, (example,)).module(), quantizer)
    for image in calibration:
        prepared(image)
    return convert_pt2e(prepared)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--checkpoint", default=str(checkpoints_dir() / "six_paintings.safetensors"))
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--size", type=int, default=1024)
    args = parser.parse_args()
    print(cpu_line(matmul_peaks()))
    net, _ = load_net(args.checkpoint)
    net = (net.blend({args.style: 1.0}) if hasattr(net, "blend") else net).eval()
    content = assets_dir() / "content"
    photos = [
        resize(load_tensor(content / f"{name}.jpg")[None], (args.size, args.size)) for name in [*CALIBRATION, TIMED]
    ]
    photo = photos[-1]
    with torch.no_grad():
        reference = net(photo)
        fp32 = torch.compile(net)

        def bf16() -> torch.Tensor:
            with torch.autocast("cpu", torch.bfloat16):
                return fp32(photo).float()

        int8 = torch.compile(quantized(net, photo, photos[:-1]))
        modes = {
            "fp32 compiled": lambda: fp32(photo),
            "bf16 autocast compiled": bf16,
            "int8 PT2E compiled": lambda: int8(photo),
        }
        print(f"{args.checkpoint}, {args.size}x{args.size}")
        print("| mode | seconds | PSNR vs eager fp32 |\n| --- | --- | --- |")
        for name, run in modes.items():
            seconds = median_seconds(run)
            print(f"| {name} | {seconds:.3f} s | {psnr(run().clamp(0, 1), reference):.1f} dB |")


if __name__ == "__main__":
    main()
