"""PSNR of tiled (whole-image instance-norm statistics) against untiled output, real checkpoint.

    python benchmarks/stylize_tiled_psnr.py --image ../shared/assets/content/tubingen.jpg --out /tmp/tiled
    python benchmarks/stylize_tiled_psnr.py --image photo.jpg --style-image painting.jpg --size 2048 1536 \
        --tile-size 1024 -c fst/checkpoints/adain.safetensors      # the arbitrary-style model

Writes untiled.png, tiled.png and a x8 difference image to --out so the seams can be looked at.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import torch
from PIL import Image

from fst.io.images import load_rgb, pil_to_tensor, tensor_to_pil
from fst.resources import checkpoints_dir
from fst.stylize import arbitrary
from fst.stylize.loading import load_stylizer
from fst.stylize.options import StyleChoice
from fst.stylize.tiling import psnr, stylize_tiled


def style_net_runs(checkpoint: Path, style: str) -> tuple[Callable, Callable]:
    """(untiled, tiled) for a style net: tiles share whole-image instance-norm statistics."""
    net, _ = load_stylizer(checkpoint, style={style: 1.0})  # a multi-style file's style folded into a plain net
    net.eval()
    return net, lambda image, tile, overlap: stylize_tiled(net, image, tile, overlap)


def adain_runs(checkpoint: Path, style_image: Path, style_size: int, wct: float) -> tuple[Callable, Callable]:
    """(untiled, tiled) for the AdaIN model as `stylize.py --style-image` builds it (reflected margin,
    `--wct` share): tiles share the whole image's relu4_1 statistics."""
    net, _ = arbitrary.load(StyleChoice([checkpoint], style_images=[style_image], style_size=style_size, wct=wct))
    return net, lambda image, tile, overlap: arbitrary.stylize_tiled(
        net.model, net.style, net.pad(image[None])[0], tile, overlap, net.alpha, border=net.border, wct=net.wct
    )[:, : image.shape[-2], : image.shape[-1]]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument(
        "-c", "--checkpoint", type=Path, default=None, help="default: the shipped six_paintings.safetensors, or adain"
    )
    parser.add_argument("--style", default="starry_night", help="the style of the style net to run")
    parser.add_argument("--style-image", type=Path, default=None, help="measure the AdaIN model with this style")
    parser.add_argument("--style-size", type=int, default=512)
    parser.add_argument(
        "--wct", type=float, default=StyleChoice.wct, help="with --style-image: stylize.py's --wct share"
    )
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--size", type=int, nargs=2, default=[1536, 1024], help="width height")
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    if args.style_image is None:
        checkpoint = args.checkpoint or checkpoints_dir() / "six_paintings.safetensors"
        untiled_run, tiled_run = style_net_runs(checkpoint, args.style)
    else:
        checkpoint = args.checkpoint or arbitrary.DEFAULT_MODEL
        untiled_run, tiled_run = adain_runs(checkpoint, args.style_image, args.style_size, args.wct)
    image = pil_to_tensor(load_rgb(args.image).resize(tuple(args.size), Image.Resampling.BICUBIC))
    for precision in args.precisions:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
        with torch.inference_mode(), autocast:
            untiled = untiled_run(image[None])[0].float()
            tiled = tiled_run(image, args.tile_size, args.overlap)
        print(
            f"{precision}: {args.size[0]}x{args.size[1]}, tile {args.tile_size}, overlap {args.overlap}: "
            f"tiled vs untiled PSNR {psnr(tiled, untiled):.2f} dB, max abs diff {(tiled - untiled).abs().max():.4f}",
            flush=True,
        )
        if args.out is not None:
            args.out.mkdir(parents=True, exist_ok=True)
            tensor_to_pil(untiled).save(args.out / f"untiled_{precision}.png")
            tensor_to_pil(tiled).save(args.out / f"tiled_{precision}.png")
            tensor_to_pil(((tiled - untiled).abs() * 8).clamp(0, 1)).save(args.out / f"diff_x8_{precision}.png")


if __name__ == "__main__":
    main()
