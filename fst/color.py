"""Colour preservation: keep the content's colours and take only the stylised luminance.

One luminance for the whole project: ITU-R BT.601 luma, the Y of YCbCr and of YIQ (Gatys, Bethge,
Hertzmann & Shechtman 2016 transfer luminance only). Both the stylize control and the optimisation
method's luminance-only transfer use these functions.
"""

from __future__ import annotations

import torch

_LUMA = (0.299, 0.587, 0.114)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) luma."""
    r, g, b = image.unbind(dim=-3)
    return (_LUMA[0] * r + _LUMA[1] * g + _LUMA[2] * b).unsqueeze(-3)


def grey(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) copy of an RGB image with its luma in all three channels."""
    return luminance(image).expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Grey style whose luma has the content's mean and standard deviation (luminance-only transfer)."""
    style_y, content_y = luminance(style), luminance(content)
    matched = (style_y - style_y.mean()) / style_y.std().clamp_min(1e-6) * content_y.std() + content_y.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def preserve_color(content: torch.Tensor, stylized: torch.Tensor) -> torch.Tensor:
    """The content's chroma with the stylized luma, RGB in [0, 1].

    Adding the luma difference to each RGB channel equals swapping Y in YCbCr (or YIQ) with the
    chroma channels kept: both inverse transforms map Y to (1, 1, 1).
    """
    return (content + (luminance(stylized) - luminance(content))).clamp(0, 1)
