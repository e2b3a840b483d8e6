"""PSNR of tiled (whole-image instance-norm statistics) against untiled output, real checkpoint.

    python benchmarks/stylize_tiled_psnr.py --image ../shared/assets/content/tubingen.jpg --out /tmp/tiled

Writes untiled.png, tiled.png and a x8 difference image to --out so the seams can be looked at.
"""

from __future__ import annotations

import argparse
from contextlib import nullcontext
from pathlib import Path

import torch
from PIL import Image

from fst.io.images import load_rgb, pil_to_tensor, tensor_to_pil
from fst.stylize.loading import load_stylizer
from fst.stylize.tiling import psnr, stylize_tiled


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/starry_night.safetensors"))
    parser.add_argument("--image", type=Path, required=True)
    parser.add_argument("--size", type=int, nargs=2, default=[1536, 1024], help="width height")
    parser.add_argument("--tile-size", type=int, default=512)
    parser.add_argument("--overlap", type=int, default=128)
    parser.add_argument("--precisions", nargs="+", default=["fp32", "bf16"])
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args()
    net, _ = load_stylizer(args.checkpoint)
    net.eval()
    image = pil_to_tensor(load_rgb(args.image).resize(tuple(args.size), Image.Resampling.BICUBIC))
    for precision in args.precisions:
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if precision == "bf16" else nullcontext()
        with torch.inference_mode(), autocast:
            untiled = net(image[None])[0].float()
            tiled = stylize_tiled(net, image, args.tile_size, args.overlap)
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
