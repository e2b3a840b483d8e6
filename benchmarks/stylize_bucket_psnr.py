"""PSNR of size-bucket output (padded, masked instance norm) against the plain net, real checkpoint.

    python benchmarks/stylize_bucket_psnr.py --checkpoint checkpoints/starry_night.safetensors

Each photo is resized so that neither side is a multiple of the bucket, padded by reflection up to
the bucket and cropped back. "masked": statistics over the photo's own pixels only, as the compiled
bucket graph runs it; "unmasked": plain instance norm on the padded image, for contrast. Eager fp32.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image

from fst.io.images import load_rgb, pil_to_tensor
from fst.models.norms import MaskedNet
from fst.models.transformer import pad_to
from fst.stylize.buckets import bucket_size, valid_mask
from fst.stylize.loading import load_stylizer
from fst.stylize.tiling import psnr

CONTENT = Path(__file__).resolve().parents[2] / "shared" / "assets" / "content"
# (photo, long side in pixels): both sides end up off the 128 px grid.
PHOTOS = [("tubingen.jpg", 1100), ("golden_gate.jpg", 1050), ("stata.jpg", 1070), ("brad_pitt.jpg", 1030)]


def off_grid_size(width: int, height: int, long_side: int, bucket: int) -> tuple[int, int]:
    """(width, height) with the long side `long_side`, aspect kept, neither side a multiple of `bucket`."""
    scale = long_side / max(width, height)
    sides = [round(width * scale), round(height * scale)]
    return tuple(side + 1 if side % bucket == 0 else side for side in sides)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--checkpoint", type=Path, default=Path("checkpoints/starry_night.safetensors"))
    parser.add_argument("--content", type=Path, default=CONTENT)
    parser.add_argument("--bucket", type=int, default=128)
    args = parser.parse_args()
    net, _ = load_stylizer(args.checkpoint)
    net.eval()
    masked_net = MaskedNet(net)
    for name, long_side in PHOTOS:
        photo = load_rgb(args.content / name)
        width, height = off_grid_size(*photo.size, long_side, args.bucket)
        x = pil_to_tensor(photo.resize((width, height), Image.Resampling.BICUBIC))[None]
        size = bucket_size(height, width, args.bucket)
        padded = pad_to(x, size)
        with torch.inference_mode():
            plain = net(x)
            masked = masked_net(padded, valid_mask(height, width, size))[..., :height, :width]
            unmasked = net(padded)[..., :height, :width]
        print(
            f"{name} {width}x{height} -> bucket {size[1]}x{size[0]}: "
            f"masked {psnr(masked, plain):.2f} dB (max abs diff {(masked - plain).abs().max():.4f}), "
            f"unmasked {psnr(unmasked, plain):.2f} dB",
            flush=True,
        )


if __name__ == "__main__":
    main()
