"""Stylize images: `fst-stylize [INPUTS] [-c CKPT ...] [-o OUT]` (or `python stylize.py`); none: the demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fst.resources import demo_dir
from fst.stylize.pipeline import StylizeOptions, list_styles, run

DEMO = {"inputs": str(demo_dir()), "style": "starry_night", "out": "outputs/demo"}  # a shipped style, by name


def parse_args(argv: list[str] | None = None) -> StylizeOptions | None:
    """The run's options; None for `--list-styles`."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("inputs", nargs="?", default=DEMO["inputs"], help="file, folder, glob or .txt list")
    p.add_argument(
        "-c",
        "--checkpoint",
        nargs="+",
        type=Path,
        help=".safetensors (fst), .ckpt (Lightning) or .pth (pytorch/examples); several = one output each; "
        "a multi-style file runs each of its styles",
    )
    p.add_argument(
        "-s",
        "--style",
        nargs="+",
        default=[],
        metavar="NAME[=W,NAME=W]",
        help="shipped style(s) by name (or from -c files); NAME=0.6,OTHER=0.4 mixes styles of one multi-style "
        f"net; several = one output each (default without -c or --style-image: {DEMO['style']})",
    )
    p.add_argument(
        "--style-image",
        nargs="+",
        type=Path,
        default=[],
        metavar="IMAGE",
        help="any image(s) as the style (AdaIN; -c: the model, default: the shipped adain.safetensors); "
        "several are mixed by --style-weights",
    )
    p.add_argument("--style-weights", nargs="+", type=float, metavar="W", help="one weight per --style-image")
    p.add_argument("--alpha", type=float, default=1.0, help="with --style-image: style strength in feature space, 0..1")
    p.add_argument("--style-size", type=int, default=512, help="with --style-image: long side the style is encoded at")
    p.add_argument(
        "--wct",
        type=float,
        default=StylizeOptions.wct,
        metavar="SHARE",
        help="with --style-image: share (0..1) of the whitening-colouring target mixed into AdaIN's; it also "
        "matches the style's channel correlations: more style, more content change (0: plain AdaIN)",
    )
    p.add_argument("--list-styles", action="store_true", help="print the shipped styles and their files, then exit")
    p.add_argument("-o", "--out", type=Path, default=Path(DEMO["out"]), help="output folder (mirrors inputs)")
    p.add_argument("--format", choices=["jpg", "png", "webp"], help="force an output format (default: keep)")
    p.add_argument("--quality", type=int, default=92, help="JPEG/WebP quality")
    p.add_argument("--png-compression", type=int, default=1, choices=range(10), help="PNG zlib level (9: smallest)")
    p.add_argument("--strength", type=float, default=1.0, help="blend with the content, 0..1")
    p.add_argument("--preserve-color", action="store_true", help="transfer luminance only")
    p.add_argument("--content-scale", type=float, default=1.0, help="resize before the net (<1: bigger strokes)")
    p.add_argument("--device", default="auto", help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        default="auto",
        help="auto: bf16 on CUDA and on CPUs with AVX512-BF16/AMX (> 40 dB PSNR vs fp32), else fp32",
    )
    p.add_argument(
        "--compile",
        choices=["auto", "on", "off"],
        default="auto",
        help="auto: run the compiled net when cached; build it (once per machine and torch) for jobs of "
        "at least --compile-min-images whole images and --compile-min-mpx megapixels; off: the eager net",
    )
    p.add_argument("--compile-min-images", type=int, default=2, help="whole images that justify a build")
    p.add_argument("--compile-min-mpx", type=float, default=2.0, help="megapixels that justify a build")
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument("--batch-size", type=int, default=0, help="same-size images per batch; 0: 1 on CPU, 4 on CUDA")
    p.add_argument("--workers", type=int, default=2, help="decode/encode threads")
    p.add_argument("--max-pixels", type=int, default=6_000_000, help="tile images with more pixels")
    p.add_argument("--tile-size", type=int, default=1024)
    p.add_argument("--overlap", type=int, default=128)
    p.add_argument("--output-head", choices=["clamp", "tanh"], default="clamp", help="for .ckpt/.pth files")
    p.add_argument("--overwrite", action="store_true", help="redo existing outputs (default: skip = resume)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    a = p.parse_args(argv)
    if a.list_styles:
        return None
    styles = a.style or ([] if a.checkpoint or a.style_image else [DEMO["style"]])
    return StylizeOptions(
        inputs=a.inputs, out_dir=a.out, checkpoints=a.checkpoint or [], styles=styles, format=a.format,
        quality=a.quality, png_compression=a.png_compression,
        strength=a.strength, preserve_color=a.preserve_color, content_scale=a.content_scale, device=a.device,
        precision=a.precision, compile=a.compile, compile_min_images=a.compile_min_images,
        compile_min_mpx=a.compile_min_mpx,
        channels_last=a.channels_last, batch_size=a.batch_size,
        workers=a.workers, max_pixels=a.max_pixels, tile_size=a.tile_size, overlap=a.overlap,
        output_head=a.output_head, overwrite=a.overwrite, progress=a.progress,
        style_images=a.style_image, style_weights=a.style_weights, alpha=a.alpha, style_size=a.style_size, wct=a.wct,
    )  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    options = parse_args(argv)
    return list_styles() if options is None else run(options)


if __name__ == "__main__":
    sys.exit(main())
