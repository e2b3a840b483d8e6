"""An edge-aware local affine colour model: fitted at low resolution, applied at any resolution.

The colour-guided filter of He, Sun & Tang (2013): in every window of the low-resolution photo,
the target's colours are fitted as an affine function of the photo's, `target ~ A(x) photo + b(x)`
(A a 3x3 matrix). The coefficients are averaged over the windows covering each pixel, upsampled
(they are smooth, so bilinear loses nothing) and applied to the full-resolution photo: its edges
and fine texture come from the photo itself, only its colours follow the target. This is the
"fast guided filter" (He & Sun 2015) that joint bilateral learning and Neural Preset build on.

Where a window is flat the fit has nothing to go on, so the matrix is pulled (ridge, weight `eps`)
towards the one global affine fit of the whole image, its gains clipped at 1, rather than towards
zero (the classic guided filter's prior, which would flatten texture to the target's mean).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

COEFFICIENTS = 12  # A (3x3, row-major: output channel x photo channel) then b (3)


def box_mean(x: torch.Tensor, radius: int) -> torch.Tensor:
    """Mean over the (2r+1)^2 window around each pixel of (N, C, H, W), windows clipped at borders.

    Running sums along each axis: the cost does not grow with the radius.
    """

    def along(t: torch.Tensor, dim: int) -> torch.Tensor:
        size = t.shape[dim]
        padded = torch.cat([torch.zeros_like(t.narrow(dim, 0, 1)), t.cumsum(dim)], dim)
        index = torch.arange(size, device=t.device)
        high = (index + radius + 1).clamp_max(size)
        low = (index - radius).clamp_min(0)
        return padded.index_select(dim, high) - padded.index_select(dim, low)

    ones = torch.ones(1, 1, *x.shape[-2:], dtype=x.dtype, device=x.device)
    return along(along(x, 2), 3) / along(along(ones, 2), 3)


def global_affine(photo: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """The least-squares (3, 3) matrix A of target - mean ~ A (photo - mean) over the whole image."""
    p = photo[0].flatten(1).double()
    t = target[0].flatten(1).double()
    p, t = p - p.mean(1, keepdim=True), t - t.mean(1, keepdim=True)
    return torch.linalg.solve(p @ p.T + 1e-6 * torch.eye(3, dtype=p.dtype), p @ t.T).T.float()


def limit_gain(matrix: torch.Tensor, max_gain: float) -> torch.Tensor:
    """The (3, 3) matrix with its singular values (its gains along its axes) clipped at `max_gain`."""
    left, gains, right = torch.linalg.svd(matrix)
    return left @ torch.diag(gains.clamp_max(max_gain)) @ right


def fit(
    photo: torch.Tensor, target: torch.Tensor, radius: int = 8, eps: float = 1e-3, max_gain: float = 1.0
) -> torch.Tensor:
    """Coefficients (1, 12, H, W) such that A(x) photo(x) + b(x) ~ target(x) locally.

    Args:
        photo, target: (1, 3, H, W) floats, RGB in [0, 1], at the same (low) resolution.
        radius: window radius in pixels of this resolution; larger follows the target less closely.
        eps: ridge weight towards the global fit (in squared pixel units): larger is smoother.
        max_gain: the most the prior may stretch the photo's colours (its singular values). A flat
            grey sky matched to a contrasty night has a global fit of gain 3-6, and every flat
            window took it: the sky's faint JPEG blocks came out as visible squares. Windows with
            real structure still follow the target; flat ones keep their texture, never amplify it.
    """
    prior = limit_gain(global_affine(photo, target), max_gain)  # (3, 3)
    height, width = photo.shape[-2:]
    pairs = torch.cat([photo[:, :, None] * photo[:, None], photo[:, :, None] * target[:, None]], 1)
    stats = box_mean(torch.cat([photo, target, pairs.reshape(1, 18, height, width)], 1), radius)
    mean_photo, mean_target = stats[:, :3], stats[:, 3:6]
    products = stats[:, 6:].reshape(1, 2, 3, 3, height, width)
    cov_pp = products[:, 0] - mean_photo[:, :, None] * mean_photo[:, None]  # (1, 3, 3, H, W)
    cov_pt = products[:, 1] - mean_photo[:, :, None] * mean_target[:, None]  # [i, c]: photo i, target c
    # Per pixel: A^T = (cov_pp + eps I)^-1 (cov_pt + eps prior^T), by the adjugate of the symmetric
    # 3x3 (elementwise on whole maps: 5x faster than a batched solve of H*W systems).
    lhs = cov_pp[0] + eps * torch.eye(3)[:, :, None, None]
    rhs = cov_pt[0] + eps * prior.T[:, :, None, None]
    inverse = _symmetric_inverse(lhs)  # (3, 3, H, W)
    transposed = (inverse[:, :, None] * rhs[None]).sum(1)  # [i, c] = sum_k inv[i, k] rhs[k, c]
    matrix = transposed.transpose(0, 1)  # (3 out, 3 in, H, W)
    offset = mean_target[0] - (matrix * mean_photo[0][None]).sum(1)
    return box_mean(torch.cat([matrix.reshape(9, height, width), offset])[None], radius)


def _symmetric_inverse(m: torch.Tensor) -> torch.Tensor:
    """Inverse of a symmetric (3, 3, H, W) field of positive-definite matrices, by cofactors."""
    a, b, c, d, e, f = m[0, 0], m[0, 1], m[0, 2], m[1, 1], m[1, 2], m[2, 2]
    co_a, co_b, co_c = d * f - e * e, c * e - b * f, b * e - c * d
    co_d, co_e, co_f = a * f - c * c, b * c - a * e, a * d - b * b
    determinant = a * co_a + b * co_b + c * co_c
    rows = [[co_a, co_b, co_c], [co_b, co_d, co_e], [co_c, co_e, co_f]]
    return torch.stack([torch.stack(row) for row in rows]) / determinant


def apply(coefficients: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """A(x) photo(x) + b(x) for (1, 12, h, w) coefficients and a (1, 3, H, W) photo at any size."""
    height, width = photo.shape[-2:]
    if coefficients.shape[-2:] != (height, width):
        coefficients = F.interpolate(coefficients, size=(height, width), mode="bilinear", align_corners=False)
    matrix = coefficients[:, :9].reshape(-1, 3, 3, height, width)
    return (matrix * photo[:, None]).sum(2) + coefficients[:, 9:]


def apply_in_strips(coefficients: torch.Tensor, photo: torch.Tensor, rows: int = 256) -> torch.Tensor:
    """`apply` to a (3, H, W) uint8 photo, `rows` full-resolution rows at a time; (3, H, W) uint8.

    The float working set is a strip, not the image: a 12 MP photo needs about 150 MB above its
    two uint8 copies (input and output), where whole-image floats would take over 700 MB.
    """
    _, height, width = photo.shape
    out = torch.empty_like(photo)
    # Sample positions in the coefficient map of each full-resolution column and row, as
    # F.interpolate(align_corners=False) places them, so strips join without a seam.
    xs = (torch.arange(width) + 0.5) / width * 2 - 1
    for top in range(0, height, rows):
        bottom = min(top + rows, height)
        ys = (torch.arange(top, bottom) + 0.5) / height * 2 - 1
        grid = torch.stack(torch.meshgrid(ys, xs, indexing="ij")[::-1], -1)[None]
        strip_coefficients = F.grid_sample(
            coefficients, grid, mode="bilinear", padding_mode="border", align_corners=False
        )
        strip = photo[None, :, top:bottom].float().div_(255.0)
        result = apply(strip_coefficients, strip)
        out[:, top:bottom] = result[0].clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)
    return out
