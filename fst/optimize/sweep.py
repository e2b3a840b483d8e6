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
from pathlib import Path

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig

from fst.config import compose_config
from fst.io.contact_sheet import label_grid
from fst.io.images import load_tensor, save_image_atomic, tensor_to_pil
from fst.losses.perceptual import PerceptualLoss
from fst.optimize.gatys import Objective, initial_image, optimize_pixels

# The paper's setting: fst/conf/loss/gatys_vgg19.yaml (layers, Caffe VGG-19) with average pooling.
SETTINGS = ["loss=gatys_vgg19", "loss.vgg.pooling=avg", "pixel_optimizer=lbfgs"]


def gatys_weights(
    ratio: float, content_layer: str, style_layers: list[str], channels: dict[str, int], content_positions: int
) -> tuple[float, dict[str, float]]:
    """(content_weight, {layer: weight}) for our loss equal to Gatys's alpha L_c + beta L_s, beta = 1.

    Ours: content = mean (F-P)^2 = 2 L_c / (N M); style_l = mean (G/(N M) - A/(N M))^2 = 4 E_l / N^2.
    """
    content_weight = ratio * channels[content_layer] * content_positions / 2.0
    return content_weight, {name: channels[name] ** 2 / (4.0 * len(style_layers)) for name in style_layers}


def sweep(
    settings: DictConfig,
    content: torch.Tensor,
    style: torch.Tensor,
    ratios: list[float],
    deepest: list[str],
    iterations: int,
    seed: int = 0,
) -> list[list[torch.Tensor]]:
    """Results[row][column]: style from the first style layer up to deepest[row], alpha/beta = ratios[column].

    Args:
        settings: the composed optimize config (`SETTINGS`): its loss, VGG and L-BFGS.
    """
    base = instantiate(settings.loss, _convert_="all")
    (content_layer,), style_layers = base.content_layers, list(base.style_layers)
    style_target = base.style_target(style)
    features = base.vgg(content, base.layers)
    channels = {name: f.shape[1] for name, f in features.items()}
    positions = features[content_layer].shape[-2] * features[content_layer].shape[-1]
    lbfgs = instantiate(settings.pixel_optimizer, _convert_="all")
    rows = []
    for last in deepest:
        used = style_layers[: style_layers.index(last) + 1]
        row = []
        for ratio in ratios:
            content_weight, weights = gatys_weights(ratio, content_layer, used, channels, positions)
            # Unused layers weigh 0 so every cell's loss keeps the whole VGG (and one style target).
            layer_weights = {name: weights.get(name, 0.0) for name in style_layers}
            loss = PerceptualLoss(base.vgg, [content_layer], layer_weights, content_weight, 1.0)
            goal = Objective(loss, loss.content_target(content), style_target)
            start = initial_image(content, "noise", seed=seed)  # the paper starts from white noise
            result, history = optimize_pixels(goal, start, lbfgs, iterations, progress=False)
            first, last_loss = history[0]["total"], history[-1]["total"]
            print(f"style up to {last}, alpha/beta {ratio:g}: loss {first:.4g} -> {last_loss:.4g}", flush=True)
            row.append(result)
        rows.append(row)
    return rows


def main(argv: list[str] | None = None) -> None:
    settings = compose_config("optimize", SETTINGS)
    assets = Path(settings.paths.assets)
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default=str(assets / "content" / "tubingen.jpg"))
    parser.add_argument("--style", default=str(Path(settings.paths.styles) / "starry_night.jpg"))
    parser.add_argument("--vgg-weights", default=settings.paths.vgg_weights)
    parser.add_argument("--image-size", type=int, default=160, help="long side of every cell")
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--ratios", type=float, nargs="+", default=[1e-5, 1e-4, 1e-3, 1e-2])
    parser.add_argument("--deepest", nargs="+", default=list(settings.loss.style_layers), help="one row each")
    parser.add_argument("--output", default="outputs/gatys_sweep.png")
    args = parser.parse_args(argv)

    torch.manual_seed(0)
    settings = compose_config("optimize", [*SETTINGS, f"paths.vgg_weights={args.vgg_weights}"])
    content = load_tensor(args.content, args.image_size)[None]
    style = load_tensor(args.style, args.image_size)[None]
    rows = sweep(settings, content, style, args.ratios, args.deepest, args.iterations)
    cells = [[tensor_to_pil(image[0]) for image in row] for row in rows]
    first = next(iter(settings.loss.style_layers))
    row_labels = [last if last == first else f"{first}..{last}" for last in args.deepest]
    grid = label_grid(cells, row_labels, [f"alpha/beta {r:g}" for r in args.ratios])
    save_image_atomic(grid, args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
