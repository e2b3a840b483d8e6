"""Photorealism regulariser of Luan et al. 2017: Levin et al.'s Matting Laplacian of the content.

M (HW x HW) is built once from the content photo. The loss sum_c V_c^T M V_c is small when every
output channel is, in each 3x3 window, an affine function of the content's colours: edges stay
where the content has them and the style cannot paint texture across flat content.

M is sparse: a pixel only meets the pixels of its 3x3 windows (at most 25 neighbours), so a
512x512 image has about 6.5M non-zeros (~80 MB) where a dense M would need 550 GB.
"""

from __future__ import annotations

import warnings

import numpy as np
import scipy.sparse
import torch


def matting_laplacian(image: np.ndarray, eps: float = 1e-7, radius: int = 1) -> scipy.sparse.csr_matrix:
    """Levin, Lischinski & Weiss (2008) Matting Laplacian of an RGB image (H, W, 3) in [0, 1].

    Returns:
        A symmetric positive semi-definite float64 CSR matrix (H*W, H*W) with constants in its
        null space; pixel index = row * W + column.
    """
    height, width, _ = image.shape
    size = 2 * radius + 1
    count = size * size  # |w_k|, pixels per window
    index = np.arange(height * width).reshape(height, width)
    # One row per window centre that fits inside the image; columns: its pixels' indices.
    windows = np.lib.stride_tricks.sliding_window_view(index, (size, size)).reshape(-1, count)
    rows, cols, values = [], [], []
    flat = image.reshape(-1, 3).astype(np.float64)
    for chunk in np.array_split(windows, max(1, len(windows) // 65536)):  # bounds peak memory
        colors = flat[chunk]  # (K, n, 3)
        mean = colors.mean(axis=1, keepdims=True)
        centred = colors - mean
        covariance = centred.transpose(0, 2, 1) @ centred / count
        inverse = np.linalg.inv(covariance + (eps / count) * np.eye(3))
        # Levin eq. 12: delta_ij - (1 + (I_i - mu)^T (Sigma + eps/|w| I)^-1 (I_j - mu)) / |w|
        local = np.eye(count) - (1.0 + centred @ inverse @ centred.transpose(0, 2, 1)) / count
        rows.append(np.repeat(chunk, count, axis=1).ravel())
        cols.append(np.tile(chunk, (1, count)).ravel())
        values.append(local.ravel())
    shape = (height * width, height * width)
    coo = scipy.sparse.coo_matrix((np.concatenate(values), (np.concatenate(rows), np.concatenate(cols))), shape)
    return coo.tocsr()  # sums the entries of overlapping windows


def to_torch_sparse(matrix: scipy.sparse.csr_matrix, device: torch.device | str = "cpu") -> torch.Tensor:
    """scipy CSR -> torch sparse CSR (float32) on `device`."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # "sparse CSR support is in beta": noise for users
        tensor = torch.sparse_csr_tensor(
            torch.from_numpy(matrix.indptr.astype(np.int64)),
            torch.from_numpy(matrix.indices.astype(np.int64)),
            torch.from_numpy(matrix.data.astype(np.float32)),
            size=matrix.shape,
            check_invariants=False,  # built by scipy, valid by construction
        )
    return tensor.to(device)


class _QuadraticForm(torch.autograd.Function):
    """sum_c V_c^T M V_c for V (HW, C) and symmetric M; the gradient is 2 M V, one sparse product."""

    @staticmethod
    def forward(ctx, laplacian: torch.Tensor, values: torch.Tensor) -> torch.Tensor:
        product = laplacian @ values
        ctx.save_for_backward(product)
        return (values * product).sum()

    @staticmethod
    def backward(ctx, grad_output: torch.Tensor) -> tuple[None, torch.Tensor]:
        (product,) = ctx.saved_tensors
        return None, 2.0 * grad_output * product


class PhotorealismLoss(torch.nn.Module):
    """weight x sum_c V_c^T M V_c / (H*W) for images (1, 3, H, W) of the content's size.

    Dividing by the pixel count keeps one weight meaningful at any resolution.
    """

    def __init__(self, content: torch.Tensor, weight: float = 1.0, eps: float = 1e-7) -> None:
        super().__init__()
        self.weight = float(weight)
        if content.dim() != 4 or content.shape[0] != 1:
            raise ValueError(f"content must be (1, 3, H, W), got {tuple(content.shape)}")
        self.size = tuple(content.shape[-2:])
        pixels = content[0].permute(1, 2, 0).detach().cpu().double().numpy()
        self.laplacian = to_torch_sparse(matting_laplacian(pixels, eps), content.device)

    def _apply(self, fn, recurse: bool = True):  # nn.Module signature, untyped upstream
        module = super()._apply(fn, recurse)
        self.laplacian = fn(self.laplacian)
        return module

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        if tuple(image.shape[-2:]) != self.size or image.shape[0] != 1:
            raise ValueError(f"image {tuple(image.shape)} does not match the content's size {self.size}")
        values = image[0].float().reshape(image.shape[1], -1).t()  # (HW, C), pixel index = row * W + col
        return self.weight * _QuadraticForm.apply(self.laplacian, values) / values.shape[0]
