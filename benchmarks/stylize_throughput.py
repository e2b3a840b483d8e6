"""Images/s of the stylize pipeline vs a plain eager fp32 one-image-at-a-time loop, same run.

    python benchmarks/stylize_throughput.py --checkpoint checkpoints/starry_night.safetensors

Both sides read JPEGs from disk and write JPEGs, so decode and encode are counted. The fast path
is `fst.stylize.pipeline.run` with its defaults (`--precision auto`: bf16 on CPUs with AVX512-BF16
or AMX, channels-last) and torch.compile on; compiling costs 15-47 s per shape, paid once in a
warm-up run and reported separately.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch
from PIL import Image

from fst.io.images import load_rgb, pil_to_tensor, save_image_atomic, tensor_to_pil
from fst.stylize.loading import load_stylizer
from fst.stylize.pipeline import StylizeOptions, resolve_precision, run
from fst.stylize.tiling import psnr

CONTENT = Path(__file__).resolve().parents[1] / "data" / "demo"


def make_images(folder: Path, side: int, count: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    sources = sorted(CONTENT.glob("*.jpg"))
    for index in range(count):
        image = load_rgb(sources[index % len(sources)]).resize((side, side), Image.Resampling.BICUBIC)
        image.save(folder / f"img{index:03d}.jpg", quality=92)


def baseline(net: torch.nn.Module, folder: Path, out: Path) -> float:
    """The reference implementations' way: eager fp32, one image at a time (after one untimed image)."""
    files = sorted(folder.glob("*.jpg"))
    with torch.no_grad():
        net(pil_to_tensor(load_rgb(files[0]))[None])  # oneDNN's first call at a size is slower: not counted
    start = time.perf_counter()
    for path in files:
        with torch.no_grad():
            stylized = net(pil_to_tensor(load_rgb(path))[None])[0]
        save_image_atomic(tensor_to_pil(stylized), out / path.name, quality=92)
    return len(files) / (time.perf_counter() - start)


def fast(checkpoint: Path, folder: Path, out: Path, batch_size: int, workers: int) -> tuple[float, float]:
    options = StylizeOptions(
        inputs=str(folder), out_dir=out, checkpoints=[checkpoint], compile="on",
        batch_size=batch_size, workers=workers, progress=False, overwrite=True, quality=92,
    )  # fmt: skip
    start = time.perf_counter()
    run(options)  # warm-up: compiles this shape
    warm = time.perf_counter() - start
    files = len(list(folder.glob("*.jpg")))
    start = time.perf_counter()
    run(options)
    return files / (time.perf_counter() - start), warm


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/starry_night.safetensors"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[512, 1024])
    parser.add_argument("--baseline-images", type=int, default=4)
    parser.add_argument("--fast-images", type=int, default=8)
    parser.add_argument("--batch-sizes", type=int, nargs="+", default=[1])
    parser.add_argument("--workers", type=int, default=2, help="decode/encode threads of the pipeline")
    args = parser.parse_args()
    net, _ = load_stylizer(args.checkpoint)
    precision = resolve_precision("auto", torch.device("cpu"))
    print(f"torch {torch.__version__}, {torch.get_num_threads()} threads, checkpoint {args.checkpoint}")
    with tempfile.TemporaryDirectory() as temp:
        root = Path(temp)
        for side in args.sizes:
            make_images(root / f"base{side}", side, args.baseline_images)
            make_images(root / f"fast{side}", side, args.fast_images)
            rates = [baseline(net, root / f"base{side}", root / f"base_out{side}") for _ in range(2)]
            base_rate = max(rates)  # the faster of two runs: the ratio is not flattered by a slow baseline
            print(
                f"{side}px: baseline eager fp32, one at a time: {' / '.join(f'{r:.3f}' for r in rates)} img/s",
                flush=True,
            )
            for batch_size in args.batch_sizes:
                folder, out = root / f"fast{side}", root / f"fast_out{side}"
                fast_rate, warm = fast(args.checkpoint, folder, out, batch_size, args.workers)
                print(
                    f"{side}px: pipeline (precision {precision}, channels-last, compile) batch {batch_size}: "
                    f"{fast_rate:.3f} img/s | ratio {fast_rate / base_rate:.2f}x | warm-up incl. compile {warm:.1f} s",
                    flush=True,
                )
        image = pil_to_tensor(load_rgb(sorted(CONTENT.glob("*.jpg"))[0]).resize((1024, 1024)))[None]
        with torch.no_grad():
            reference = net(image)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                low = net(image.contiguous(memory_format=torch.channels_last)).float()
        print(f"bf16 vs fp32 at 1024px: PSNR {psnr(low, reference):.2f} dB")


if __name__ == "__main__":
    main()
