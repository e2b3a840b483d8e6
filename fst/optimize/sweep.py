"""Gatys et al. 2015, Fig. 3: style layers (rows) x content/style ratio alpha/beta (columns), one PNG.

    python -m fst.optimize.sweep [--content PATH] [--style PATH] [--image-size 160] [--iterations 200]
        [--output outputs/gatys_sweep.png]

Ratios are in the paper's own units: its losses are sums (content 1/2 sum (F-P)^2, style
sum_l w_l / (4 N_l^2 M_l^2) sum (G-A)^2, w_l = 1/#layers) where ours are means of normalised
Grams. With the same Caffe VGG-19 and 0..255 input, `gatys_weights` converts alpha/beta exactly,
so the columns are the paper's 1e-5 .. 1e-2.
"""

from __future__ import annotations

import argparse
import functools
import os
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from fst.config import REPO_ROOT
from fst.io.images import save_image_atomic, tensor_to_pil
from fst.losses.perceptual import PerceptualLoss
from fst.losses.vgg import VGGFeatures
from fst.optimize.gatys import initial_image, optimize_pixels
from fst.optimize.pipeline import load_image

ASSETS = Path(os.environ.get("FST_ASSETS", REPO_ROOT.parent / "shared" / "assets"))
STYLE_LAYERS = ["relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1"]
CONTENT_LAYER = "relu4_2"


def gatys_weights(
    ratio: float, style_layers: list[str], channels: dict[str, int], content_positions: int
) -> tuple[float, dict[str, float]]:
    """(content_weight, {layer: weight}) for our loss equal to Gatys's alpha L_c + beta L_s, beta = 1.

    Ours: content = mean (F-P)^2 = 2 L_c / (N M); style_l = mean (G/(N M) - A/(N M))^2 = 4 E_l / N^2.
    """
    content_weight = ratio * channels[CONTENT_LAYER] * content_positions / 2.0
    return content_weight, {name: channels[name] ** 2 / (4.0 * len(style_layers)) for name in style_layers}


def label_grid(cells: list[list[Image.Image]], row_labels: list[str], col_labels: list[str]) -> Image.Image:
    """Paste equally sized images into rows x columns with a text margin on the top and left."""
    width, height = cells[0][0].size
    left, top = 110, 22
    grid = Image.new("RGB", (left + width * len(col_labels), top + height * len(row_labels)), "white")
    draw = ImageDraw.Draw(grid)
    for c, text in enumerate(col_labels):
        draw.text((left + c * width + 4, 4), text, fill="black")
    for r, text in enumerate(row_labels):
        draw.text((4, top + r * height + height // 2 - 6), text, fill="black")
        for c, cell in enumerate(cells[r]):
            grid.paste(cell, (left + c * width, top + r * height))
    return grid


def sweep(
    content: torch.Tensor,
    style: torch.Tensor,
    vgg_weights: str,
    ratios: list[float],
    deepest: list[str],
    iterations: int,
    seed: int = 0,
) -> list[list[torch.Tensor]]:
    """Results[row][column]: style from relu1_1 up to deepest[row], alpha/beta = ratios[column]."""
    vgg = VGGFeatures("vgg19", vgg_weights, "caffe", pooling="avg")  # the paper's average pooling
    loss = PerceptualLoss(vgg, [CONTENT_LAYER], STYLE_LAYERS)
    loss.set_style(style)
    loss.set_content(content)
    features = loss.vgg(content, loss.layers)
    channels = {name: f.shape[1] for name, f in features.items()}
    positions = features[CONTENT_LAYER].shape[-2] * features[CONTENT_LAYER].shape[-1]
    lbfgs = functools.partial(torch.optim.LBFGS, lr=1.0, max_iter=1, history_size=100)
    rows = []
    for last in deepest:
        layers = STYLE_LAYERS[: STYLE_LAYERS.index(last) + 1]
        row = []
        for ratio in ratios:
            loss.content_weight, loss.style_layers = gatys_weights(ratio, layers, channels, positions)
            start = initial_image(content, "noise", seed=seed)  # the paper starts from white noise
            result, history = optimize_pixels(loss, start, lbfgs, iterations, progress=False)
            first, last_loss = history[0]["total"], history[-1]["total"]
            print(f"style up to {last}, alpha/beta {ratio:g}: loss {first:.4g} -> {last_loss:.4g}", flush=True)
            row.append(result)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=str(ASSETS / "content" / "tubingen.jpg"))
    parser.add_argument("--style", default=str(ASSETS / "styles" / "starry_night.jpg"))
    parser.add_argument(
        "--vgg-weights",
        default=os.environ.get("FST_VGG_WEIGHTS", str(ASSETS / "vgg" / "vgg19_caffe_features_fp16.safetensors")),
    )
    parser.add_argument("--image-size", type=int, default=160, help="long side of every cell")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--ratios", type=float, nargs="+", default=[1e-5, 1e-4, 1e-3, 1e-2])
    parser.add_argument("--deepest", nargs="+", default=STYLE_LAYERS, help="one row per deepest style layer")
    parser.add_argument("--output", default="outputs/gatys_sweep.png")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    content = load_image(args.content, args.image_size)
    style = load_image(args.style, args.image_size)
    rows = sweep(content, style, args.vgg_weights, args.ratios, args.deepest, args.iterations)
    cells = [[tensor_to_pil(image[0]) for image in row] for row in rows]
    row_labels = [f"relu1_1..{last}" if last != "relu1_1" else "relu1_1" for last in args.deepest]
    grid = label_grid(cells, row_labels, [f"alpha/beta {r:g}" for r in args.ratios])
    save_image_atomic(grid, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
