"""A trained network against the optimisation method on the same loss (Johnson et al., Sec. 4.1).

For each held-out photo: the network's loss, then the number of L-BFGS iterations that pixel
optimisation, started from the photo, needs to reach that loss.

    python -m fst.optimize.compare CHECKPOINT PHOTO [PHOTO ...] [--image-size 256] [--max-iterations 300]

A multi-style file is compared style by style (`--only NAME` for one).

The loss is rebuilt from the checkpoint's metadata (layers, weights, VGG), so the net is judged by
exactly the loss it was trained on.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch
from hydra.utils import instantiate

from fst.checkpoint import load_net
from fst.config import compose_config
from fst.io.images import load_tensor
from fst.losses.perceptual import PerceptualLoss
from fst.losses.targets import StyleTarget
from fst.models.multistyle import MultiStyleNet
from fst.optimize.gatys import Objective, OptimizerFactory, optimize_pixels


def iterations_to_match(
    net: torch.nn.Module,
    loss: PerceptualLoss,
    style: StyleTarget,
    photo: torch.Tensor,
    optimizer: OptimizerFactory,
    max_iterations: int = 300,
) -> dict[str, float | int | None]:
    """Network loss on `photo` (1, 3, H, W) and the L-BFGS iterations from `photo` to reach it.

    Returns:
        network_loss, content_init_loss (iteration 0), iterations (None if not reached within
        max_iterations), optimised_loss (the last one computed).
    """
    goal = Objective(loss, loss.content_target(photo), style)
    with torch.no_grad():
        network_loss = float(goal(net(photo))["total"])
    _, history = optimize_pixels(goal, photo, optimizer, max_iterations, progress=False, stop_below=network_loss)
    reached = next((i for i, terms in enumerate(history) if terms["total"] <= network_loss), None)
    return {
        "network_loss": network_loss,
        "content_init_loss": history[0]["total"],
        "iterations": reached,
        "optimised_loss": history[-1]["total"],
    }


def main(argv: list[str] | None = None) -> None:
    settings = compose_config("optimize", ["pixel_optimizer=lbfgs"])  # paths and L-BFGS, as optimize.py
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="an exported .safetensors file (fst.checkpoint.export)")
    parser.add_argument("photos", nargs="+", help="held-out photos (not in the training folder)")
    parser.add_argument("--style", help="style image (default: the checkpoint's, from the assets' styles/)")
    parser.add_argument("--only", help="of a multi-style file, judge only this style (default: each)")
    parser.add_argument("--vgg-weights", default=settings.paths.vgg_weights)
    parser.add_argument("--image-size", type=int, default=256, help="long side of each photo")
    parser.add_argument("--max-iterations", type=int, default=300)
    args = parser.parse_args(argv)

    net, metadata = load_net(args.checkpoint)
    loss = PerceptualLoss.from_config(metadata["loss"], args.vgg_weights)
    lbfgs = instantiate(settings.pixel_optimizer, _convert_="all")
    # A multi-style file is judged style by style, each folded into the plain net that stylize runs.
    entries = metadata.get("styles") or [metadata["style"]]
    for entry in entries if args.only is None else [e for e in entries if e["name"] == args.only]:
        style_net = net.blend({entry["name"]: 1.0}) if isinstance(net, MultiStyleNet) else net
        style_path = args.style or Path(settings.paths.styles) / entry["file"]
        style = loss.style_target(load_tensor(style_path)[None])
        rows = []
        for photo in args.photos:
            image = load_tensor(photo, args.image_size)[None]
            result = iterations_to_match(style_net, loss, style, image, lbfgs, args.max_iterations)
            row = {"style": entry["name"], "photo": Path(photo).name, **result}
            print(json.dumps(row), flush=True)
            rows.append(row)
        reached = [r["iterations"] for r in rows if r["iterations"] is not None]
        print(
            f"{entry['name']}: {len(reached)}/{len(rows)} photos matched; "
            f"L-BFGS iterations to reach the network's loss: {reached}",
            flush=True,
        )


if __name__ == "__main__":
    main()
