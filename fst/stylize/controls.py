"""What users dial after the net: strength, colour preservation, and the stroke-scale resize."""

from __future__ import annotations

import torch

from fst.color import preserve_color


def blend(content: torch.Tensor, stylized: torch.Tensor, strength: float) -> torch.Tensor:
    """Linear mix: strength 1 is the full style, 0 the untouched content."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return stylized if strength == 1.0 else torch.lerp(content, stylized, strength)


def apply_controls(
    content: torch.Tensor, stylized: torch.Tensor, strength: float = 1.0, keep_color: bool = False
) -> torch.Tensor:
    """Colour preservation, then strength, on (N, 3, H, W) tensors of equal size."""
    if keep_color:
        stylized = preserve_color(content, stylized)
    return blend(content, stylized, strength)


def scaled_size(height: int, width: int, content_scale: float) -> tuple[int, int]:
    """Size the net sees for `content_scale` (< 1: larger strokes relative to the image)."""
    return max(1, round(height * content_scale)), max(1, round(width * content_scale))
