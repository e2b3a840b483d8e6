"""A trained network against the optimisation method on the same loss (Johnson et al., Sec. 4.1).

For each held-out photo: the network's loss, then the number of L-BFGS iterations that pixel
optimisation, started from the photo, needs to reach that loss.

    python -m fst.optimize.compare CHECKPOINT PHOTO [PHOTO ...] [--image-size 256] [--max-iterations 300]

The loss is rebuilt from the checkpoint's metadata (layers, weights, VGG), so the net is judged by
exactly the loss it was trained on.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
from pathlib import Path

import torch

from fst.checkpoint import load_net
from fst.config import REPO_ROOT
from fst.losses.perceptual import PerceptualLoss
from fst.losses.vgg import VGGFeatures
from fst.optimize.gatys import OptimizerFactory, optimize_pixels
from fst.optimize.pipeline import load_image

ASSETS = Path(os.environ.get("FST_ASSETS", REPO_ROOT.parent / "shared" / "assets"))


def loss_from_metadata(metadata: dict, vgg_weights: str) -> PerceptualLoss:
    """The training loss recorded in a checkpoint (`fst.losses.perceptual.PerceptualLoss.config`)."""
    spec = metadata["loss"]
    vgg = VGGFeatures(spec["arch"], vgg_weights, spec["input_convention"])
    return PerceptualLoss(
        vgg,
        spec["content_layers"],
        spec["style_layers"],
        spec["content_weight"],
        spec["style_weight"],
        spec["tv_weight"],
        spec["style_size"],
    )


def iterations_to_match(
    net: torch.nn.Module,
    loss: PerceptualLoss,
    photo: torch.Tensor,
    optimizer: OptimizerFactory,
    max_iterations: int = 300,
) -> dict[str, float | int | None]:
    """Network loss on `photo` (1, 3, H, W) and the L-BFGS iterations from `photo` to reach it.

    Returns:
        network_loss, content_init_loss (iteration 0), iterations (None if not reached within
        max_iterations), optimised_loss (the last one computed).
    """
    loss.set_content(photo)
    with torch.no_grad():
        network_loss = float(loss(net(photo))["total"])
    _, history = optimize_pixels(loss, photo, optimizer, max_iterations, progress=False, stop_below=network_loss)
    reached = next((i for i, terms in enumerate(history) if terms["total"] <= network_loss), None)
    return {
        "network_loss": network_loss,
        "content_init_loss": history[0]["total"],
        "iterations": reached,
        "optimised_loss": history[-1]["total"],
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", help="an exported .safetensors file (fst.checkpoint.export)")
    parser.add_argument("photos", nargs="+", help="held-out photos (not in the training folder)")
    parser.add_argument("--style", help="style image (default: the checkpoint's, from shared/assets/styles)")
    parser.add_argument(
        "--vgg-weights",
        default=os.environ.get("FST_VGG_WEIGHTS", str(ASSETS / "vgg" / "vgg19_caffe_features_fp16.safetensors")),
    )
    parser.add_argument("--image-size", type=int, default=256, help="long side of each photo")
    parser.add_argument("--max-iterations", type=int, default=300)
    args = parser.parse_args(argv)

    net, metadata = load_net(args.checkpoint)
    loss = loss_from_metadata(metadata, args.vgg_weights)
    style_path = args.style or ASSETS / "styles" / metadata["style"]["file"]
    loss.set_style(load_image(style_path, None))
    lbfgs = functools.partial(torch.optim.LBFGS, lr=1.0, max_iter=1, history_size=100)
    rows = []
    for photo in args.photos:
        row = {
            "photo": Path(photo).name,
            **iterations_to_match(net, loss, load_image(photo, args.image_size), lbfgs, args.max_iterations),
        }
        print(json.dumps(row), flush=True)
        rows.append(row)
    reached = [r["iterations"] for r in rows if r["iterations"] is not None]
    print(f"{len(reached)}/{len(rows)} photos matched; L-BFGS iterations to reach the network's loss: {reached}")


if __name__ == "__main__":
    main()
