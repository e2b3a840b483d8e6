"""Global colour transfers between pixel sets, whole images or region by region.

Each transfer maps the photo's pixels (P, 3) to the reference's colour distribution (Q, 3 pixels),
in Lab. They are the low-resolution target of `fst.photo.transfer`; none looks at neighbours, so a
pixel's colour depends only on its own (the local affine model restores edges and smoothness).

- `reinhard`: each channel's mean and standard deviation (Reinhard et al. 2001).
- `covariance`: the mean and the 3x3 covariance, by the linear optimal-transport map (the
  Monge-Kantorovich solution of Pitie & Kokaram 2007: the least colour change that matches them).
- `sliced`: the whole 3-D distribution, by iterated 1-D quantile matching along random rotations
  (Pitie et al. 2005, "N-dimensional probability density function transfer").
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Literal

import torch
import torch.nn.functional as F

ColourMethod = Literal["reinhard", "covariance", "sliced"]
EPS = 1e-6


def reinhard(photo: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(P, 3) -> (P, 3) with the reference's per-channel mean and standard deviation."""
    mean, std = photo.mean(0), photo.std(0).clamp_min(EPS)
    return (photo - mean) / std * reference.std(0) + reference.mean(0)


def _sqrtm(matrix: torch.Tensor, power: float = 0.5) -> torch.Tensor:
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(EPS).pow(power)) @ vectors.T


def covariance(photo: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(P, 3) -> (P, 3) with the reference's mean and covariance, by the optimal linear map."""
    photo64, reference64 = photo.double(), reference.double()
    mean, ref_mean = photo64.mean(0), reference64.mean(0)
    cov = torch.cov(photo64.T) + EPS * torch.eye(3, dtype=torch.float64)
    ref_cov = torch.cov(reference64.T) + EPS * torch.eye(3, dtype=torch.float64)
    root, inverse_root = _sqrtm(cov), _sqrtm(cov, -0.5)
    transport = inverse_root @ _sqrtm(root @ ref_cov @ root) @ inverse_root
    return ((photo64 - mean) @ transport.T + ref_mean).to(photo.dtype)


def _interpolate(x: torch.Tensor, knots: torch.Tensor, values: torch.Tensor, bins: int = 4096) -> torch.Tensor:
    """Piecewise-linear y(x) through (knots, values) per column: x (P, K), knots and values (Q, K)
    with knots increasing down each column; flat beyond the ends (as numpy's `interp`).

    The curve is tabulated on `bins` even steps first, so each pixel costs a lookup and a lerp,
    not a binary search (10x faster on 180k pixels, within 1e-4 of the curve's range).
    """
    low, high = knots[0], knots[-1]
    step = (high - low).clamp_min(EPS) / (bins - 1)
    grid = low + step * torch.arange(bins, dtype=x.dtype)[:, None]  # (bins, K)
    table = torch.empty_like(grid)
    for k in range(x.shape[1]):
        upper = torch.searchsorted(knots[:, k].contiguous(), grid[:, k].contiguous()).clamp(1, knots.shape[0] - 1)
        low_knot, high_knot = knots[upper - 1, k], knots[upper, k]
        weight = ((grid[:, k] - low_knot) / (high_knot - low_knot).clamp_min(EPS)).clamp(0, 1)
        table[:, k] = torch.lerp(values[upper - 1, k], values[upper, k], weight)
    position = ((x - low) / step).clamp(0, bins - 1)
    index = position.long().clamp_max(bins - 2)
    below = table.gather(0, index)
    return torch.lerp(below, table.gather(0, index + 1), position - index)


def _lattice(points: torch.Tensor, size: int) -> torch.Tensor:
    """(size^3, 3) points on an even lattice over the bounding box of (P, 3) points, x fastest."""
    low, high = points.amin(0), points.amax(0)
    axes = [torch.linspace(float(low[c]), float(high[c]), size, dtype=points.dtype) for c in range(3)]
    first, second, third = torch.meshgrid(axes[0], axes[1], axes[2], indexing="ij")
    return torch.stack([first, second, third], -1).permute(2, 1, 0, 3).reshape(-1, 3)


def _apply_lattice(points: torch.Tensor, moved_lattice: torch.Tensor, size: int) -> torch.Tensor:
    """Each of (P, 3) points moved as the lattice around it was (trilinear interpolation)."""
    low, high = points.amin(0), points.amax(0)
    normalised = (points - low) / (high - low).clamp_min(EPS) * 2 - 1  # grid_sample's [-1, 1]
    table = moved_lattice.T.reshape(1, 3, size, size, size)  # (N, C, D, H, W): D indexes channel 2
    grid = normalised.view(1, 1, 1, -1, 3)  # grid_sample reads (x, y, z) = (channel 0, 1, 2)
    sampled = F.grid_sample(table, grid, mode="bilinear", padding_mode="border", align_corners=True)
    return sampled.view(3, -1).T


def sliced(
    photo: torch.Tensor,
    reference: torch.Tensor,
    iterations: int = 6,
    sample: int = 32_768,
    lattice: int = 33,
    seed: int = 0,
) -> torch.Tensor:
    """(P, 3) -> (P, 3) with the reference's 3-D distribution, by sliced optimal transport.

    Each iteration rotates both sets at random and moves every photo colour, along each axis, to
    the reference's value at its own quantile. The quantile functions come from `sample` pixels of
    each set at 257 levels; the map they make is a function of colour alone, so it is followed by a
    `lattice`^3 grid of colours (a 3-D LUT, as colour grading uses) and every pixel is then moved by
    trilinear interpolation in it: the cost no longer grows with the photo (2 s -> 0.3 s at 512 px
    on a loaded 2-core CPU). `seed` fixes the rotations and samples: one photo, one result.
    """
    generator = torch.Generator().manual_seed(seed)
    levels = torch.linspace(0, 1, 257, dtype=photo.dtype)

    def subset(points: torch.Tensor) -> torch.Tensor:
        if points.shape[0] <= sample:
            return points
        return points[torch.randint(points.shape[0], (sample,), generator=generator)]

    photo_sample, reference_sample = subset(photo), subset(reference)
    grid = _lattice(photo, lattice)
    moving = torch.cat([photo_sample, grid])
    count = photo_sample.shape[0]
    for _ in range(iterations):
        basis, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=photo.dtype))
        projected = moving @ basis
        photo_quantiles = projected[:count].quantile(levels, 0)
        reference_quantiles = (reference_sample @ basis).quantile(levels, 0)
        moving = moving + (_interpolate(projected, photo_quantiles, reference_quantiles) - projected) @ basis.T
    return _apply_lattice(photo, moving[count:], lattice)


METHODS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "reinhard": reinhard,
    "covariance": covariance,
    "sliced": sliced,
}


def transfer_by_region(
    photo: torch.Tensor,
    reference: torch.Tensor,
    method: ColourMethod,
    photo_regions: torch.Tensor | None = None,
    reference_regions: torch.Tensor | None = None,
) -> torch.Tensor:
    """(1, 3, H, W) photo -> its colours moved to the reference's (1, 3, Hr, Wr), same colour space.

    With regions ((R, 1, H, W) and (R, 1, Hr, Wr) binary masks, region r of the photo matched to
    region r of the reference), each region takes its own region's colours; pixels in no photo
    region, or regions too small to have a distribution, take the whole reference's.
    """
    transfer = METHODS[method]
    flat, ref_flat = photo[0].flatten(1).T, reference[0].flatten(1).T
    result = transfer(flat, ref_flat)
    if photo_regions is not None and reference_regions is not None:
        for photo_mask, ref_mask in zip(photo_regions, reference_regions, strict=True):
            inside, ref_inside = photo_mask.flatten() > 0.5, ref_mask.flatten() > 0.5
            if inside.sum() >= 16 and ref_inside.sum() >= 16:  # fewer: no covariance to speak of
                result[inside] = transfer(flat[inside], ref_flat[ref_inside])
    return result.T.reshape(photo.shape)
