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


def sliced(photo: torch.Tensor, reference: torch.Tensor, iterations: int = 12, seed: int = 0) -> torch.Tensor:
    """(P, 3) -> (P, 3) with the reference's 3-D distribution, by sliced optimal transport.

    Each iteration rotates both sets at random and moves every photo pixel, along each axis, to
    the reference's value at its own quantile. `seed` fixes the rotations: one photo, one result.
    """
    generator = torch.Generator().manual_seed(seed)
    moved = photo.clone()
    ref_count = reference.shape[0]
    for _ in range(iterations):
        basis, _ = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=photo.dtype))
        projected, ref_sorted = moved @ basis, (reference @ basis).sort(0).values
        order = projected.argsort(0)
        # The photo's ranks as positions in the reference's sorted values (linear in between).
        position = torch.linspace(0, ref_count - 1, photo.shape[0], dtype=photo.dtype)
        low = position.floor().long().clamp_max(ref_count - 1)
        high = (low + 1).clamp_max(ref_count - 1)
        weight = (position - low)[:, None]
        quantiles = ref_sorted[low] * (1 - weight) + ref_sorted[high] * weight
        target = torch.empty_like(projected).scatter_(0, order, quantiles)
        moved = moved + (target - projected) @ basis.T
    return moved


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
