"""What users dial after the net: strength, colour preservation, and the stroke-scale resize."""

from __future__ import annotations

import torch
import torch.nn.functional as F

# ITU-R BT.601 luma weights: the Y of YCbCr, as in Gatys et al.'s luminance-only transfer.
_LUMA = (0.299, 0.587, 0.114)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luma."""
    r, g, b = image.unbind(dim=-3)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(-3)


def preserve_color(content: torch.Tensor, stylized: torch.Tensor) -> torch.Tensor:
    """Keep the content's chroma and take only the stylized luminance (RGB in [0, 1]).

    Adding the luma difference to each RGB channel equals swapping Y in YCbCr with Cb, Cr kept.
    """
    return (content + (luminance(stylized) - luminance(content))).clamp(0, 1)


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


def resize(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 3, *size); area filter when shrinking, bicubic when enlarging."""
    if tuple(image.shape[-2:]) == size:
        return image
    shrinking = size[0] * size[1] < image.shape[-2] * image.shape[-1]
    if shrinking:
        return F.interpolate(image, size=size, mode="area")
    return F.interpolate(image, size=size, mode="bicubic", align_corners=False).clamp(0, 1)
