"""Total time of `stylize.py` over a folder of mixed sizes, per `--compile` mode, cold compile cache.

    python benchmarks/stylize_mixed_sizes.py --modes auto off on

Each mode runs `stylize.py` as a fresh process with an empty TORCHINDUCTOR_CACHE_DIR, so a
compile pays its full cost as on a new machine; the summary line reports compiled shapes.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from PIL import Image

from fst.io.images import load_rgb

REPO = Path(__file__).resolve().parents[1]
# (width, height): landscape and portrait photos around 1024 px, four buckets at 128 px.
SIZES = [(1024, 768), (1000, 750), (1024, 683), (768, 1024), (1080, 810)]


def make_folder(folder: Path, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted((REPO / "data" / "demo").glob("*.jpg"))
    for index in range(count):
        size = SIZES[index % len(SIZES)]
        image = load_rgb(sources[index % len(sources)]).resize(size, Image.Resampling.BICUBIC)
        image.save(folder / f"img{index:03d}.jpg", quality=92)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=REPO / "checkpoints" / "starry_night.safetensors")
    parser.add_argument("--images", type=int, default=12)
    parser.add_argument("--modes", nargs="+", default=["auto", "off"])
    parser.add_argument("--extra", nargs="*", default=[], help="more stylize.py options")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        make_folder(root / "in", args.images)
        for mode in args.modes:
            env = {**os.environ, "TORCHINDUCTOR_CACHE_DIR": str(root / f"inductor_{mode}")}
            command = [sys.executable, str(REPO / "stylize.py"), str(root / "in"), "-c", str(args.checkpoint)]
            command += ["-o", str(root / f"out_{mode}"), "--compile", mode, "--no-progress", *args.extra]
            start = time.perf_counter()
            result = subprocess.run(command, env=env, capture_output=True, text=True)
            elapsed = time.perf_counter() - start
            summary = result.stderr.strip().splitlines()[-1] if result.stderr.strip() else "(no output)"
            print(f"--compile {mode}: {elapsed:.1f} s for {args.images} images | {summary}", flush=True)


if __name__ == "__main__":
    main()
