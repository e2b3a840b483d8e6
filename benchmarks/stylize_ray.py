"""`stylize.py --engine ray` against the local engine: same photos, same flags, whole processes.

    python benchmarks/stylize_ray.py                           # 16 JPEGs of 1024x1024 from the demo photos
    python benchmarks/stylize_ray.py --count 4 --steady 8 --size 96 --flags="--compile off"   # a tiny proof run
    RAY_ADDRESS=auto python benchmarks/stylize_ray.py          # the Ray rows on a running cluster

Rows, each a fresh process timed from start to exit, PNG outputs, `--overwrite --no-progress`:

- warm-up: the local engine once (it builds the compiled package when the job is worth it, so the
  timed rows all find it cached);
- local: `stylize.py IN -o OUT FLAGS`, `--repeats` times;
- ray: the same with `--engine ray`, `--repeats` times (a local Ray started and stopped by the job,
  or the cluster of RAY_ADDRESS);
- Ray start-up: a process that only starts and stops Ray, the fixed cost inside the ray rows;
- steady state (`--steady N`, 0: skipped): each engine once more on N photos (the first `--count`
  of them the same). The extra photos over the extra seconds are the engine's images/s once it
  runs, without the fixed cost of starting (imports, styles, Ray, actors) and stopping.

Prints images/s of the best run per row, the ray/local ratio, the steady-state table, and the PSNR
of the Ray outputs against the local ones.
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from PIL import Image

from fst.resources import demo_dir

REPO = Path(__file__).resolve().parents[1]
START_RAY = (
    "import logging, ray; ray.init(include_dashboard=False, logging_level=logging.WARNING); "
    "ray.get(ray.remote(lambda: 0).remote()); ray.shutdown()"  # one task: the workers really start
)


def make_photos(folder: Path, size: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(demo_dir().glob("*.jpg"))
    for index in range(count):
        with Image.open(sources[index % len(sources)]) as source:
            photo = source.convert("RGB").resize((size, size), Image.Resampling.BICUBIC)
        photo.save(folder / f"photo{index:03d}.jpg", quality=92)


def timed(command: list[str]) -> float:
    """Wall seconds of one process; its stderr is shown only when it fails."""
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if result.returncode != 0:
        sys.exit(f"failed ({result.returncode}): {shlex.join(command)}\n{result.stderr[-3000:]}")
    return seconds


def psnr(left: Path, right: Path) -> float:
    """The lowest PSNR (dB) over the images of two output folders; inf where all are identical."""
    worst = float("inf")
    for path in sorted(left.rglob("*.png")):
        a = np.asarray(Image.open(path), dtype=np.float64)
        b = np.asarray(Image.open(right / path.relative_to(left)), dtype=np.float64)
        mse = float(np.mean((a - b) ** 2))
        worst = min(worst, 10 * np.log10(255.0**2 / mse) if mse else float("inf"))
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=16, help="photos")
    parser.add_argument("--size", type=int, default=1024, help="side of the square photos in px")
    parser.add_argument("--style", default="starry_night")
    parser.add_argument("--flags", default="", help='more stylize.py flags for both engines, e.g. "--compile off"')
    parser.add_argument("--repeats", type=int, default=2, help="timed runs per engine (the best counts)")
    parser.add_argument("--steady", type=int, default=48, help="photos of the steady-state runs (0: none)")
    args = parser.parse_args()
    if args.steady and args.steady <= args.count:
        parser.error("--steady must be more photos than --count (or 0)")

    with tempfile.TemporaryDirectory() as scratch:
        photos, more, out = Path(scratch) / "photos", Path(scratch) / "more", Path(scratch) / "out"
        make_photos(photos, args.size, args.count)
        flags = ["--style", args.style, "--format", "png", "--overwrite", "--no-progress", *shlex.split(args.flags)]
        engines = {"local": [], "ray": ["--engine", "ray"]}

        def command(folder: Path, engine: str) -> list[str]:
            stylize = [sys.executable, str(REPO / "stylize.py"), str(folder), *flags]
            return [*stylize, "-o", str(out / engine), *engines[engine]]

        print(f"{args.count} photos of {args.size}x{args.size}; flags: {shlex.join(flags)}")
        print(f"warm-up (local): {timed(command(photos, 'local')):.1f} s")
        best = {engine: min(timed(command(photos, engine)) for _ in range(args.repeats)) for engine in engines}
        startup = min(timed([sys.executable, "-c", START_RAY]) for _ in range(args.repeats))
        agreement = psnr(out / "local", out / "ray")
        steady = {}
        if args.steady:
            make_photos(more, args.size, args.steady)
            steady = {engine: timed(command(more, engine)) for engine in engines}

    print(f"| engine | best of {args.repeats} (s) | images/s | vs local |")
    print("| --- | --- | --- | --- |")
    for name, seconds in best.items():
        print(f"| {name} | {seconds:.1f} | {args.count / seconds:.2f} | {best['local'] / seconds:.2f}x |")
    print(f"Ray start-up and shutdown alone: {startup:.1f} s (included in the ray row)")
    print(f"PSNR of the ray outputs against the local ones: {agreement:.1f} dB (lowest image)")
    if steady:
        extra = args.steady - args.count
        rates = {engine: extra / (steady[engine] - best[engine]) for engine in engines}
        print(f"\nSteady state: {args.steady} photos against {args.count}, one run each")
        print(
            f"| engine | {args.steady} photos (s) | images/s past the first {args.count} | vs local | fixed cost (s) |"
        )
        print("| --- | --- | --- | --- | --- |")
        for engine, rate in rates.items():
            fixed = best[engine] - args.count / rate  # the wall time no image accounts for
            row = f"| {engine} | {steady[engine]:.1f} | {rate:.2f} | {rate / rates['local']:.2f}x | {fixed:.1f} |"
            print(row)


if __name__ == "__main__":
    main()
