"""Colour preservation by luminance-only transfer (Gatys, Bethge, Hertzmann & Shechtman 2016).

Style and content are reduced to their luminance, the style's luminance is shifted and scaled to
the content's mean and spread, the transfer runs on those grey images, and the result's luminance
is finally recombined with the content's own colour channels (YIQ space).
"""

from __future__ import annotations

import torch

# RGB -> YIQ (NTSC); its inverse is computed once.
_RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.596, -0.274, -0.322], [0.211, -0.523, 0.312]])
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)


def _convert(image: torch.Tensor, matrix: torch.Tensor) -> torch.Tensor:
    return torch.einsum("ij,njhw->nihw", matrix.to(image), image)


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    return _convert(image, _RGB_TO_YIQ)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    return _convert(image, _YIQ_TO_RGB)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """Grey copy (N, 3, H, W) of an RGB image: its Y channel in all three channels."""
    return rgb_to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Grey style whose luminance has the content's mean and standard deviation."""
    style_y, content_y = rgb_to_yiq(style)[:, :1], rgb_to_yiq(content)[:, :1]
    matched = (style_y - style_y.mean()) / style_y.std().clamp_min(1e-6) * content_y.std() + content_y.mean()
    return matched.clamp(0, 1).expand(-1, 3, -1, -1).contiguous()


def recombine(stylized_grey: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The stylised luminance with the content's I and Q (colour) channels, back in RGB [0, 1]."""
    yiq = rgb_to_yiq(content).clone()
    yiq[:, :1] = rgb_to_yiq(stylized_grey)[:, :1]
    return yiq_to_rgb(yiq).clamp(0, 1)
