"""The whole stylize job, as a user runs it, against a plain loop: every row one process, one run.

    python benchmarks/stylize_job.py                     # 16 JPEGs of 1024x1024 made from the demo photos
    python benchmarks/stylize_job.py PHOTOS_DIR          # any folder of yours
    python benchmarks/stylize_job.py --mixed             # 12 JPEGs of 5 sizes around 1024 px
    python benchmarks/stylize_job.py --style udnie       # another style of the shipped multi-style file
    python benchmarks/stylize_job.py --precision fp32    # fst's rows forced to fp32: an AVX2-only CPU's path
    python benchmarks/stylize_job.py --checkpoint FILE   # your net, in both fst's rows and the plain loop

By default fst's rows run the file `stylize.py --style STYLE` picks (the cheapest shipped net that
holds the style) and the plain loop the full-width shipped net, `six_paintings.safetensors`.

Rows, each a fresh process timed from start to exit (start-up, decode, compile or load, net,
encode), PNG output everywhere:

- plain loop: full-width net, eager fp32, one image at a time, PIL decode, PNG encode (what the
  reference implementations do);
- warm-up: `stylize.py` defaults on two of the images, with an empty compiled-package cache;
- defaults (three times): `stylize.py IN -o OUT`, no flags, after that warm-up;
- `--compile off` and `--compile on`;
- `--form-size 0`: one pass at full size, the plain loop's work (the defaults add a pass at 512 px
  for the style's large forms on images larger than that: +25% of the FLOPs at 1024x1024).

Prints first the CPU line (`fst.device.cpu_line`: model, ISA, fp32 and native-bf16 matmul peaks;
`--cpu`: that line only), then wall time, the ratio to the plain loop and peak RSS per row, then how
long loading the compiled package takes in-process, and the PSNR of the `--form-size 0` outputs against the plain
loop's (the same work: bf16 against fp32 where bf16 is native).
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fst import zoo
from fst.device import cpu_line, matmul_peaks
from fst.resources import checkpoints_dir, demo_dir

REPO = Path(__file__).resolve().parents[1]
DEMO = demo_dir()
FULL_WIDTH = checkpoints_dir() / "six_paintings.safetensors"  # the plain loop: the reference implementations' net
MIXED_SIZES = [(1024, 768), (768, 1024), (1080, 810), (1024, 683), (1000, 1000)]


def make_photos(folder: Path, sizes: list[tuple[int, int]], count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(DEMO.glob("*.jpg"))
    for index in range(count):
        with Image.open(sources[index % len(sources)]) as source:
            photo = source.convert("RGB").resize(sizes[index % len(sizes)], Image.Resampling.BICUBIC)
        photo.save(folder / f"photo{index:03d}.jpg", quality=92)


def plain_loop(checkpoint: Path, style: str, photos: Path, out: Path) -> None:
    """The baseline, run as its own process by `main`."""
    import torch

    from fst.io.images import load_rgb, pil_to_tensor, tensor_to_pil
    from fst.stylize.loading import load_stylizer

    net, _ = load_stylizer(checkpoint, style={style: 1.0})  # a multi-style file's style folded into a plain net
    out.mkdir(parents=True, exist_ok=True)
    for path in sorted(photos.glob("*.jpg")):
        with torch.no_grad():
            stylized = net(pil_to_tensor(load_rgb(path))[None])[0]
        tensor_to_pil(stylized).save(out / f"{path.stem}.png")


def timed(command: list[str], env: dict[str, str]) -> tuple[float, float]:
    """(wall seconds, peak RSS in GiB) of one process."""
    start = time.perf_counter()
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    _, status, usage = os.wait4(process.pid, 0)
    elapsed = time.perf_counter() - start
    stderr = process.stderr.read() if process.stderr else ""
    if os.waitstatus_to_exitcode(status) != 0:
        raise RuntimeError(f"{' '.join(command)} failed:\n{stderr[-2000:]}")
    return elapsed, usage.ru_maxrss / 2**20  # ru_maxrss is in KiB on Linux


def psnr_db(a: Path, b: Path) -> float:
    x = np.asarray(Image.open(a).convert("RGB"), dtype=np.float64) / 255.0
    y = np.asarray(Image.open(b).convert("RGB"), dtype=np.float64) / 255.0
    mse = float(np.mean((x - y) ** 2))
    return float("inf") if mse == 0 else 10.0 * np.log10(1.0 / mse)


def load_seconds(checkpoint: Path, style: str, cache: Path, precision: str = "auto") -> float:
    """Seconds to load the cached package and put the style's weights in."""
    import torch

    os.environ["FST_CACHE_DIR"] = str(cache)
    from fst.device import resolve_precision
    from fst.stylize import compiled
    from fst.stylize.loading import load_stylizer

    net, _ = load_stylizer(checkpoint, style={style: 1.0})
    device = torch.device("cpu")
    start = time.perf_counter()
    package = compiled.load(net, resolve_precision(precision, device), device, build_if_missing=False)
    elapsed = time.perf_counter() - start
    return elapsed if package is not None else float("nan")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("photos", nargs="?", type=Path, help="a folder of JPEGs (default: made from the demo photos)")
    parser.add_argument("--checkpoint", type=Path, help="fst's net (default: the shipped file --style picks)")
    parser.add_argument("--style", default="starry_night", help="a style --checkpoint and --plain-checkpoint hold")
    parser.add_argument(
        "--plain-checkpoint", type=Path, help=f"the plain loop's net (default: --checkpoint, else {FULL_WIDTH.name})"
    )
    parser.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16"],
        default="auto",
        help="stylize.py --precision for fst's rows (the plain loop is fp32 always); fp32 on a bf16 CPU "
        "stands in for an AVX2-only one",
    )
    parser.add_argument("--count", type=int, default=16, help="photos to make when no folder is given")
    parser.add_argument("--size", type=int, default=1024, help="side of the square photos made")
    parser.add_argument("--mixed", action="store_true", help=f"make photos of the sizes {MIXED_SIZES}")
    parser.add_argument("--plain-loop", nargs=2, type=Path, metavar=("IN", "OUT"), help=argparse.SUPPRESS)
    parser.add_argument("--cpu", action="store_true", help="print the CPU line (model, ISA, matmul peaks) and exit")
    args = parser.parse_args()
    checkpoint = args.checkpoint or zoo.find_style_file(zoo.parse_mix(args.style), zoo.shipped_styles())
    plain_checkpoint = args.plain_checkpoint or args.checkpoint or FULL_WIDTH
    if args.plain_loop:
        plain_loop(checkpoint, args.style, *args.plain_loop)
        return
    # First: the rows below only mean something next to the machine they were measured on.
    print(cpu_line(matmul_peaks()), flush=True)
    if args.cpu:
        return

    with tempfile.TemporaryDirectory(prefix="fst_bench_") as temp:
        root = Path(temp)
        photos = args.photos
        if photos is None:
            photos = root / "photos"
            make_photos(photos, MIXED_SIZES if args.mixed else [(args.size, args.size)], args.count)
        warm = root / "warm"
        warm.mkdir()
        for path in sorted(photos.glob("*.jpg"))[:2]:
            shutil.copy(path, warm / path.name)
        # An empty package cache of its own: the warm-up run is the first on this "machine".
        env = {**os.environ, "FST_CACHE_DIR": str(root / "cache")}
        stylize = [sys.executable, str(REPO / "stylize.py"), "-c", str(checkpoint), "--style", args.style]
        stylize += ["--format", "png", "--precision", args.precision]
        stylize += ["--overwrite", "--no-progress"]
        plain = [sys.executable, __file__, "--checkpoint", str(plain_checkpoint), "--style", args.style, "--plain-loop"]
        rows = [
            ("plain loop (eager fp32, one at a time)", [*plain, str(photos)]),
            ("warm-up: defaults on 2 images, empty cache", [*stylize, str(warm), "-o"]),
            ("defaults", [*stylize, str(photos), "-o"]),
            ("defaults, 2nd run", [*stylize, str(photos), "-o"]),
            ("defaults, 3rd run", [*stylize, str(photos), "-o"]),
            ("--compile off", [*stylize, str(photos), "--compile", "off", "-o"]),
            ("--compile on", [*stylize, str(photos), "--compile", "on", "-o"]),
            ("--form-size 0 (one pass, as the plain loop)", [*stylize, str(photos), "--form-size", "0", "-o"]),
        ]
        one_pass = len(rows) - 1
        count = len(list(photos.glob("*.jpg")))
        names = f"style {args.style}; checkpoint {checkpoint} (--precision {args.precision})"
        names += f", plain loop {plain_checkpoint}"
        print(f"{count} photos in {photos}; {names}; {os.cpu_count()} CPUs", flush=True)
        print("| what | wall time | vs plain loop | peak RSS |\n| --- | --- | --- | --- |", flush=True)
        baseline = None
        for index, (name, command) in enumerate(rows):
            out = root / f"out{index}"
            seconds, rss = timed([*command, str(out)], env)
            baseline = baseline or seconds
            ratio = "" if index == 1 else f"{baseline / seconds:.2f}x"
            print(f"| {name} | {seconds:.1f} s | {ratio} | {rss:.2f} GiB |", flush=True)
        load_ms = load_seconds(checkpoint, args.style, root / "cache", args.precision) * 1e3
        print(f"loading the cached package with one style's weights: {load_ms:.0f} ms")
        if plain_checkpoint == checkpoint:  # the same net: precision is all that differs
            outputs = sorted((root / "out0").iterdir())
            ratios = [psnr_db(path, root / f"out{one_pass}" / path.name) for path in outputs]
            low, median = min(ratios), np.median(ratios)
            print(f"--form-size 0 vs plain loop (fp32) PSNR: min {low:.1f} dB, median {median:.1f} dB")


if __name__ == "__main__":
    main()
