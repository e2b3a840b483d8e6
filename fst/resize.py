"""Resizing float images (N, 3, H, W) in [0, 1]: to a size, or to a long side with the aspect kept.

The one resampler of the project: style images for the loss, images for the optimisation method
and `--content-scale` in stylize all go through it, so a size means the same everywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(image: torch.Tensor, size: tuple[int, int], clamp: bool = True) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 3, *size); `clamp=False` for signed images (a difference of two).

    Shrinking: antialiased bilinear (a triangle filter, no aliasing). It is also what the shipped
    styles' Gram targets were computed with: another filter (antialiased bicubic) changed the
    starry_night net's style loss by 2x, so a loss rebuilt from a checkpoint must use this one.
    Enlarging: bicubic, sharper than bilinear.
    """
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    if size[0] * size[1] <= image.shape[-2] * image.shape[-1]:
        resized = F.interpolate(image, size=size, mode="bilinear", antialias=True, align_corners=False)
    else:
        resized = F.interpolate(image, size=size, mode="bicubic", align_corners=False)
    # Bicubic overshoots at edges: clamp back into the pixel range.
    return resized.clamp(0, 1) if clamp else resized


def long_side_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) scaled so max(height, width) == long_side; each side at least 1."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_long_side(image: torch.Tensor, long_side: int | None) -> torch.Tensor:
    """`image` with its long side resized (up or down) to `long_side`; None keeps it as it is."""
    if long_side is None:
        return image
    return resize(image, long_side_size(*image.shape[-2:], long_side))
