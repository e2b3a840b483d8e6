"""Luan et al. pairs with semantic masks, photorealism off vs on, side by side in one PNG.

    python scripts/photo_style_grid.py [--pairs 1 21 30] [--image-size 256] [--iterations 150]
        [--photorealism-weights 0 1e8] [--output outputs/photo_style_grid.png]

Columns: content | style | one result per photorealism weight (0: semantic masks only). Every
result and its losses JSON is also written next to the grid (`<output stem>/in<N>_pr<weight>.png`).
"""

from __future__ import annotations

import argparse
import functools
from pathlib import Path

import torch
from PIL import Image

from fst.io.images import save_image_atomic, tensor_to_pil
from fst.losses.perceptual import PerceptualLoss
from fst.losses.vgg import VGGFeatures
from fst.optimize.pipeline import load_image, run
from fst.optimize.sweep import ASSETS, label_grid


def letterbox(image: Image.Image, side: int) -> Image.Image:
    box = Image.new("RGB", (side, side), "white")
    image.thumbnail((side, side))
    box.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return box


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[1, 21, 30])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--photorealism-weights", type=float, nargs="+", default=[0.0, 1e8])
    parser.add_argument("--vgg-weights", default=str(ASSETS / "vgg" / "vgg19_caffe_features_fp16.safetensors"))
    parser.add_argument("--output", default="outputs/photo_style_grid.png")
    parser.add_argument("--reuse", action="store_true", help="load results already written instead of rerunning")
    args = parser.parse_args()

    root, out_dir = ASSETS / "photo_style", Path(args.output).with_suffix("")
    lbfgs = functools.partial(torch.optim.LBFGS, lr=1.0, max_iter=1, history_size=100)
    rows = []
    for pair in args.pairs:
        content, style = root / "input" / f"in{pair}.jpg", root / "style" / f"tar{pair}.jpg"
        row = [load_image(content, args.image_size), load_image(style, args.image_size)]
        for weight in args.photorealism_weights:
            name = f"pr{weight:g}"
            done = out_dir / f"in{pair}_{name}.png"
            if args.reuse and done.is_file():
                row.append(load_image(done, None))
                continue
            # Same layers and weights as conf/loss/gatys_vgg19.yaml.
            vgg = VGGFeatures("vgg19", args.vgg_weights, "caffe")
            loss = PerceptualLoss(vgg, ["relu4_2"], [f"relu{i}_1" for i in range(1, 6)], 5.0, 100.0)
            result, history = run(
                loss, lbfgs, str(content), [str(style)], str(out_dir / f"in{pair}_{name}.png"),
                image_size=args.image_size, iterations=args.iterations, progress=False,
                content_segmentation=str(root / "segmentation" / f"in{pair}.png"),
                style_segmentations=[str(root / "segmentation" / f"tar{pair}.png")],
                photorealism_weight=weight,
            )  # fmt: skip
            terms = ", ".join(f"{k} {v:.4g}" for k, v in history[-1].items())
            print(f"pair {pair} photorealism {name}: total {history[0]['total']:.4g} -> {terms}", flush=True)
            row.append(result)
        rows.append(row)
    # Cells share one size: each image letterboxed, uncropped, into an image_size square.
    cells = [[letterbox(tensor_to_pil(t[0]), args.image_size) for t in row] for row in rows]
    labels = ["content", "style"] + [f"photorealism {w:g}" if w else "masks only" for w in args.photorealism_weights]
    save_image_atomic(label_grid(cells, [f"pair {p}" for p in args.pairs], labels), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
