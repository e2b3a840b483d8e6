"""Stylize images: `fst-stylize [INPUTS] [-c CKPT ...] [-o OUT]` (or `python stylize.py`); none: the demo."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fst.resources import demo_dir
from fst.stylize.options import (
    Controls,
    OptionError,
    OutputOptions,
    Performance,
    StyleChoice,
    StylizeOptions,
    TilingOptions,
)
from fst.stylize.ray_start import start_for

DEMO = {"inputs": str(demo_dir()), "style": "starry_night", "out": "outputs/demo"}  # a shipped style, by name


def share_or_auto(text: str) -> float | None:
    """`--photo-luminance`'s value: a number (range checked with the options), or `auto` (None)."""
    if text == "auto":
        return None
    try:
        return float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a share in [0, 1] or 'auto', got {text!r}") from None


def build_parser() -> argparse.ArgumentParser:
    """Every flag's `dest` is its `StylizeOptions` field and its default that field's default."""
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("inputs", nargs="?", default=DEMO["inputs"], help="file, folder, glob or .txt list")
    p.add_argument(
        "-c",
        "--checkpoint",
        dest="checkpoints",
        metavar="CHECKPOINT",
        nargs="+",
        type=Path,
        default=[],
        help=".safetensors (fst), .ckpt (Lightning) or .pth (pytorch/examples); several = one output each; "
        "a multi-style file runs each of its styles",
    )
    p.add_argument(
        "-s",
        "--style",
        dest="styles",
        nargs="+",
        default=[],
        metavar="NAME[=W,NAME=W]",
        help="shipped style(s) by name (or from -c files); NAME=0.6,OTHER=0.4 mixes styles of one multi-style "
        f"net; several = one output each (default without -c or --style-image: {DEMO['style']})",
    )
    p.add_argument(
        "--style-image",
        dest="style_images",
        nargs="+",
        type=Path,
        default=[],
        metavar="IMAGE",
        help="any image(s) as the style (AdaIN; -c: the model, default: the shipped adain.safetensors); "
        "several are mixed by --style-weights",
    )
    p.add_argument("--style-weights", nargs="+", type=float, metavar="W", help="one weight per --style-image")
    style = StyleChoice
    p.add_argument(
        "--alpha", type=float, default=style.alpha, help="with --style-image: style strength in feature space, 0..1"
    )
    p.add_argument(
        "--style-size", type=int, default=style.style_size, help="with --style-image: long side the style is encoded at"
    )
    p.add_argument(
        "--wct",
        type=float,
        default=style.wct,
        metavar="SHARE",
        help="with --style-image: share (0..1) of the whitening-colouring target mixed into AdaIN's; it also "
        "matches the style's channel correlations: more style, more content change (0: plain AdaIN)",
    )
    p.add_argument(
        "--photo-style",
        type=Path,
        metavar="REF",
        help="a reference photo: the inputs take its colours and light and stay photographs",
    )
    p.add_argument(
        "--masks",
        nargs=2,
        type=Path,
        default=[],
        metavar=("CONTENT_SEG", "REF_SEG"),
        help="with --photo-style: colour-coded region masks (Luan et al.'s): each region takes the colours of "
        "the reference's region of the same colour; CONTENT_SEG is a file (one photo) or a folder of masks "
        "named as the photos (same stem)",
    )
    p.add_argument(
        "--photo-method",
        choices=["sliced", "covariance", "reinhard", "network"],
        default=style.photo_method,
        help="with --photo-style: the low-resolution target (docs/photo-style.md)",
    )
    p.add_argument(
        "--photo-luminance",
        type=share_or_auto,
        default=style.photo_luminance,
        metavar="SHARE|auto",
        help="with --photo-style: share (0..1) of the reference's lightness taken; colour is taken whole "
        "(default auto: per photo, the most that keeps the photo's structure)",
    )
    p.add_argument("--list-styles", action="store_true", help="print the shipped styles and their files, then exit")
    p.add_argument(
        "-o", "--out", dest="out_dir", type=Path, default=Path(DEMO["out"]), help="output folder (mirrors inputs)"
    )
    output = OutputOptions
    p.add_argument("--format", choices=["jpg", "png", "webp"], help="force an output format (default: keep)")
    p.add_argument("--quality", type=int, default=output.quality, help="JPEG/WebP quality")
    p.add_argument(
        "--png-compression",
        type=int,
        default=output.png_compression,
        choices=range(10),
        help="PNG zlib level (9: smallest)",
    )
    controls = Controls
    p.add_argument("--strength", type=float, default=controls.strength, help="blend with the content, 0..1")
    p.add_argument("--preserve-color", action="store_true", help="transfer luminance only")
    p.add_argument(
        "--content-scale",
        type=float,
        default=controls.content_scale,
        help="resize before the net (<1: bigger strokes)",
    )
    p.add_argument(
        "--form-size",
        type=int,
        default=controls.form_size,
        metavar="PX",
        help="images larger than this long side get the style's large forms from a second pass at this size "
        "and their fine detail from the full-size one (0: one pass at full size; default 512 for style nets, "
        "0 for --style-image)",
    )
    perf = Performance
    p.add_argument("--device", default=perf.device, help="auto, cpu, cuda, cuda:1, ...")
    p.add_argument(
        "--precision",
        choices=["auto", "fp32", "bf16", "fp16"],
        default=perf.precision,
        help="auto: bf16 on CUDA and on CPUs with AVX512-BF16/AMX (> 40 dB PSNR vs fp32), else fp32",
    )
    p.add_argument(
        "--compile",
        choices=["auto", "on", "off"],
        default=perf.compile,
        help="auto: run the compiled net when cached; build it (once per machine and torch) for jobs of "
        "at least --compile-min-images whole images and --compile-min-mpx megapixels; off: the eager net",
    )
    p.add_argument(
        "--compile-min-images", type=int, default=perf.compile_min_images, help="whole images that justify a build"
    )
    p.add_argument(
        "--compile-min-mpx", type=float, default=perf.compile_min_mpx, help="megapixels that justify a build"
    )
    p.add_argument("--no-channels-last", dest="channels_last", action="store_false")
    p.add_argument(
        "--batch-size", type=int, default=perf.batch_size, help="same-size images per batch; 0: 1 on CPU, 4 on CUDA"
    )
    p.add_argument("--workers", type=int, default=perf.workers, help="decode/encode threads")
    p.add_argument(
        "--engine",
        choices=["local", "ray"],
        default=perf.engine,
        help="local: this process; ray: Ray Data actors on this machine, or the cluster of RAY_ADDRESS",
    )
    tiling = TilingOptions
    p.add_argument(
        "--max-pixels",
        type=int,
        default=tiling.max_pixels,
        help="tile images with more pixels (default: the model's own limit, measured to stay under 3 GiB)",
    )
    p.add_argument("--tile-size", type=int, default=tiling.tile_size)
    p.add_argument("--overlap", type=int, default=tiling.overlap)
    p.add_argument("--output-head", choices=["clamp", "tanh"], default=style.output_head, help="for .ckpt/.pth files")
    p.add_argument("--overwrite", action="store_true", help="redo existing outputs (default: skip = resume)")
    p.add_argument("--no-progress", dest="progress", action="store_false")
    return p


def flag_names(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Option field -> its flag (`alpha` -> `--alpha`), for naming options in error messages."""
    return {action.dest: action.option_strings[-1] for action in parser._actions if action.option_strings}


def parse_args(argv: list[str] | None = None) -> StylizeOptions | None:
    """The run's options; None for `--list-styles`.

    Raises:
        OptionError: values out of range or options that exclude each other (named by field).
    """
    fields = vars(build_parser().parse_args(argv))
    if fields.pop("list_styles"):
        return None
    if not (fields["styles"] or fields["checkpoints"] or fields["style_images"] or fields["photo_style"]):
        fields["styles"] = [DEMO["style"]]
    return StylizeOptions.create(**fields)


def main(argv: list[str] | None = None) -> int:
    try:
        options = parse_args(argv)
    except OptionError as error:  # the library names fields; the user typed flags
        print(f"error: {error.named(flag_names(build_parser()))}", file=sys.stderr)
        return 2
    ray_start = start_for(options)  # --engine ray: Ray comes up in a thread while torch loads
    # Imported here, not at the top: the pipeline pulls in torch (about 1.5 s), which `--help`
    # and a mistyped flag should not wait for.
    if options is not None and options.style.photo_style is not None:
        from fst.photo.job import run as run_photo_look

        return run_photo_look(options)
    from fst.stylize.pipeline import list_styles, run

    return list_styles() if options is None else run(options, ray_start)


if __name__ == "__main__":
    sys.exit(main())
