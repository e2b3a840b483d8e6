"""The Gatys et al. loop: optimise the pixels of one image against the training's `PerceptualLoss`.

Nothing here knows about files: the caller supplies tensors (1, 3, H, W, RGB in [0, 1]) and an
`Objective` (the loss with its targets), and gets back the image and the loss terms of every iteration.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import nn
from tqdm import tqdm

from fst.losses.perceptual import ContentTarget, PerceptualLoss
from fst.losses.targets import StyleTarget

Init = Literal["content", "noise", "mix"]
OptimizerFactory = Callable[[list[torch.Tensor]], torch.optim.Optimizer]


def initial_image(
    content: torch.Tensor, init: Init = "content", noise_ratio: float = 0.5, seed: int = 0
) -> torch.Tensor:
    """Starting point: the content, white noise, or `noise_ratio` x noise + (1 - ratio) x content."""
    if init not in ("content", "noise", "mix"):
        raise ValueError(f"init must be 'content', 'noise' or 'mix', got {init!r}")
    if init == "content":
        return content.clone()
    # Generated on the CPU so one seed gives one image on every device.
    noise = torch.rand(content.shape, generator=torch.Generator().manual_seed(seed)).to(content)
    return noise if init == "noise" else noise_ratio * noise + (1.0 - noise_ratio) * content


@dataclass(frozen=True)
class Objective:
    """What the pixels are optimised against: the perceptual loss with its targets, plus extra terms.

    Args:
        extra: name -> module returning an already weighted scalar for the image (e.g. photorealism).
        autocast: run VGG in bf16 (Gram matrices and MSEs stay fp32 whatever autocast says).
    """

    loss: PerceptualLoss
    content: ContentTarget
    style: StyleTarget
    extra: Mapping[str, nn.Module] = field(default_factory=dict)
    autocast: bool = False

    def __call__(self, image: torch.Tensor) -> dict[str, torch.Tensor]:
        """The weighted terms of `image` by name, and their "total"."""
        with torch.autocast(image.device.type, dtype=torch.bfloat16, enabled=self.autocast):
            terms = dict(self.loss(image, self.content, self.style))
        for name, term in self.extra.items():
            terms[name] = term(image)
            terms["total"] = terms["total"] + terms[name]
        return terms


def optimize_pixels(
    objective: Callable[[torch.Tensor], dict[str, torch.Tensor]],
    init: torch.Tensor,
    optimizer: OptimizerFactory,
    iterations: int,
    on_iteration: Callable[[int, torch.Tensor], None] | None = None,
    progress: bool = True,
    stop_below: float | None = None,
) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Run `iterations` optimiser steps on a copy of `init`; return (image in [0, 1], history).

    Args:
        optimizer: builds the optimiser from the parameter list, e.g.
            `functools.partial(torch.optim.LBFGS, lr=1, max_iter=1)`. One `step` is one iteration, so
            L-BFGS should have `max_iter=1` (its history persists across steps).
        extra_terms: name -> module returning an already weighted scalar for the image.
        on_iteration: called as f(iteration, image) after every step (intermediate images).
        stop_below: stop as soon as the total loss is at or below this (network comparison).

    Returns:
        history[i] holds the terms (floats) evaluated at the image before step i, so history[0]
        is the loss of `init` and history[-1] the loss of the returned image.

    The optimiser sees the total divided by `init`'s (history keeps the true values). L-BFGS is
    scale-invariant once it holds a curvature pair, but while it holds none (it rejects pairs with
    y.s <= 1e-10, e.g. negative curvature) it steps lr x gradient in pixel units: at the
    photo presets' scale (1e8, gradients 1e5-1e6 a pixel) that threw every pixel to 0 or 1.
    """
    image = init.detach().clone().requires_grad_(True)
    opt = optimizer([image])
    scale: list[float] = []  # the first evaluation's total (of `init`), fixed for the whole run
    history: list[dict[str, float]] = []
    bar = tqdm(range(iterations), disable=not progress, dynamic_ncols=True)
    for iteration in bar:
        record: dict[str, float] = {}

        def closure(record: dict[str, float] = record) -> torch.Tensor:
            opt.zero_grad(set_to_none=True)
            terms = objective(image)
            if not scale:
                total = float(terms["total"].detach())
                scale.append(total if math.isfinite(total) and total > 0 else 1.0)
            scaled = terms["total"] / scale[0]
            scaled.backward()
            if not record:  # L-BFGS may evaluate more than once; keep the first (pre-step) values
                record.update({k: float(v.detach()) for k, v in terms.items()})
            return scaled

        opt.step(closure)
        with torch.no_grad():
            # Keep pixels displayable: the loss alone does not stop values leaving [0, 1].
            image.clamp_(0, 1)
        history.append(record)
        bar.set_postfix({k: f"{v:.3g}" for k, v in record.items()}, refresh=False)
        if on_iteration is not None:
            on_iteration(iteration + 1, image.detach())
        if stop_below is not None and record["total"] <= stop_below:
            break  # history[iteration] (the image after `iteration` steps) reached the target
    with torch.no_grad():
        history.append({k: float(v) for k, v in objective(image).items()})
    return image.detach(), history
