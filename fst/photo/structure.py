"""How much of a photo's structure an output keeps, and the most lightness change that keeps it.

Taking a darker (night) or brighter reference's lightness moves every local mean of the photo's
luminance, and SSIM (Wang et al. 2004) drops with each step: past some share of the change the
photo's shading and edges are no longer what one sees. `largest_share` finds, per photo, the
largest share whose output still keeps `floor` SSIM, instead of one fixed share for every pair
(too much for a day photo given a night reference, too little for a like-lit pair).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F

LUMA = (0.299, 0.587, 0.114)  # Rec. 601 weights on the sRGB values


def luma(rgb: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) RGB in [0, 1] -> (1, 1, H, W)."""
    return (rgb * torch.tensor(LUMA, dtype=rgb.dtype).view(1, 3, 1, 1)).sum(1, keepdim=True)


def ssim(a: torch.Tensor, b: torch.Tensor) -> float:
    """Mean SSIM of two (1, 1, H, W) images in [0, 1]: 11x11 Gaussian window (sigma 1.5), valid part."""
    kernel = torch.exp(-((torch.arange(11, dtype=a.dtype) - 5.0) ** 2) / (2 * 1.5**2))
    window = (kernel[:, None] * kernel[None, :] / kernel.sum() ** 2).view(1, 1, 11, 11)
    stats = F.conv2d(torch.cat([a, b, a * a, b * b, a * b]).transpose(0, 1), window.expand(5, 1, 11, 11), groups=5)
    mean_a, mean_b, aa, bb, ab = stats[0]
    var_a, var_b, cov = aa - mean_a**2, bb - mean_b**2, ab - mean_a * mean_b
    c1, c2 = 0.01**2, 0.03**2
    numerator = (2 * mean_a * mean_b + c1) * (2 * cov + c2)
    return float((numerator / ((mean_a**2 + mean_b**2 + c1) * (var_a + var_b + c2))).mean())


def largest_share(keeps: Callable[[float], float], floor: float, steps: int = 6) -> float:
    """The largest share in [0, 1] with keeps(share) >= floor, by bisection (1/2^steps apart).

    `keeps` is taken to fall as the share grows; where even 0 is below the floor, 0.
    """
    if keeps(1.0) >= floor:
        return 1.0
    low, high = 0.0, 1.0
    for _ in range(steps):
        middle = (low + high) / 2
        low, high = (middle, high) if keeps(middle) >= floor else (low, middle)
    return low
