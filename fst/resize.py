"""Resizing float images (N, 3, H, W) in [0, 1]: to a size, or to a long side with the aspect kept.

The one resampler of the project: style images for the loss, images for the optimisation method
and `--content-scale` in stylize all go through it, so a size means the same everywhere.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 3, *size), bicubic; antialiased, so shrinking does not alias."""
    if tuple(image.shape[-2:]) == tuple(size):
        return image
    # Bicubic overshoots at edges: clamp back into the pixel range.
    return F.interpolate(image, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def long_side_size(height: int, width: int, long_side: int) -> tuple[int, int]:
    """(height, width) scaled so max(height, width) == long_side; each side at least 1."""
    scale = long_side / max(height, width)
    return max(1, round(height * scale)), max(1, round(width * scale))


def resize_long_side(image: torch.Tensor, long_side: int | None) -> torch.Tensor:
    """`image` with its long side resized (up or down) to `long_side`; None keeps it as it is."""
    if long_side is None:
        return image
    return resize(image, long_side_size(*image.shape[-2:], long_side))
