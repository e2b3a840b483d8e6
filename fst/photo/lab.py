"""sRGB <-> CIE Lab (D65) for (N, 3, H, W) float images in [0, 1].

Colour distributions are matched in Lab because its distances are close to perceived ones: one
unit of a or b is about as visible as one unit of L, which RGB's channels are not.
"""

from __future__ import annotations

import torch

_RGB_TO_XYZ = torch.tensor([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]])
_WHITE = torch.tensor([0.95047, 1.0, 1.08883])
_EPSILON, _KAPPA = 0.008856, 7.787  # the CIE's linear segment near black


def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """(3, 3) matrix times every pixel of (N, 3, H, W); a matmul (einsum's first call costs 0.4 s)."""
    return (matrix @ image.flatten(2)).view_as(image)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> Lab (L in [0, 100], a and b about [-110, 110])."""
    linear = torch.where(rgb > 0.04045, ((rgb.clamp_min(0) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix(_RGB_TO_XYZ.to(rgb), linear) / _WHITE.to(rgb).view(1, 3, 1, 1)
    f = torch.where(xyz > _EPSILON, xyz.clamp_min(1e-8) ** (1 / 3), _KAPPA * xyz + 16 / 116)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], 1)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) Lab -> sRGB, clamped to [0, 1] (out-of-gamut colours clip)."""
    fy = (lab[:, 0] + 16) / 116
    f = torch.stack([fy + lab[:, 1] / 500, fy, fy - lab[:, 2] / 200], 1)
    xyz = torch.where(f > 0.2069, f**3, (f - 16 / 116) / _KAPPA) * _WHITE.to(lab).view(1, 3, 1, 1)
    linear = _mix(torch.linalg.inv(_RGB_TO_XYZ).to(lab), xyz).clamp(0, 1)
    return torch.where(linear > 0.0031308, 1.055 * linear ** (1 / 2.4) - 0.055, 12.92 * linear).clamp(0, 1)
