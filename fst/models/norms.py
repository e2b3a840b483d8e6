"""Instance-norm variants: the same affine normalisation with statistics taken elsewhere.

Each one is built from an `nn.InstanceNorm2d` (sharing its weight and bias) and swapped into a
net with `TransformerNet.with_norms`, so a variant never copies the net's forward.

- `GlobalStatsNorm`: statistics collected over many tiles of one image, or fixed beforehand, so
  that the tiles of one image agree (`fst.stylize.tiling`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

Box = tuple[int, int, int, int]  # (top, bottom, left, right) in input pixels of the tile


class StopForward(Exception):
    """Raised by a collecting norm with `stop_after` set: the rest of the net is not needed."""


class GlobalStatsNorm(nn.Module):
    """An affine `InstanceNorm2d` whose mean and variance can be collected over tiles or fixed.

    - `collect`: accumulate per-channel sums over each tile's core region (the part of the tile
      that no other tile owns), so after one pass over all tiles it holds whole-image statistics;
    - `fixed`: normalise with statistics set beforehand instead of the tile's own;
    - `stop_after`: raise `StopForward` once collected, so a statistics pass for layer k costs
      only the layers up to k.
    """

    def __init__(self, norm: nn.InstanceNorm2d) -> None:
        super().__init__()
        self.weight = norm.weight
        self.bias = norm.bias
        self.eps = norm.eps
        self.fixed: tuple[torch.Tensor, torch.Tensor] | None = None  # (mean, var), each (C,)
        self.collect = False
        self.stop_after = False
        self.cores: Sequence[Box] = ()  # one core box per batch entry, in tile pixels
        self.tile_height = 0
        self.reset_sums()

    def reset_sums(self) -> None:
        self.count = 0
        self.sum: torch.Tensor | None = None
        self.sum_sq: torch.Tensor | None = None

    def collected(self) -> tuple[torch.Tensor, torch.Tensor]:
        """Whole-image (mean, var) from the sums gathered since `reset_sums`."""
        if not self.count or self.sum is None or self.sum_sq is None:
            raise RuntimeError("no statistics collected")
        mean = self.sum / self.count
        var = (self.sum_sq / self.count - mean.square()).clamp_min(0)
        return mean.float(), var.float()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.collect:
            self._accumulate(x)
            if self.stop_after:
                raise StopForward
        if self.fixed is None:
            return F.instance_norm(x, weight=self.weight, bias=self.bias, eps=self.eps)
        mean, var = self.fixed
        # Statistics in float32 even under bf16/fp16 autocast: variances underflow otherwise.
        scale = self.weight.float() * torch.rsqrt(var.to(x.device) + self.eps)
        shift = self.bias.float() - mean.to(x.device) * scale
        return (x.float() * scale[:, None, None] + shift[:, None, None]).to(x.dtype)

    def _accumulate(self, x: torch.Tensor) -> None:
        # This layer runs at 1/1, 1/2 or 1/4 of the tile's resolution; core boxes are multiples of 4.
        factor = max(1, self.tile_height // x.shape[-2])
        for sample, (top, bottom, left, right) in zip(x, self.cores, strict=True):
            core = sample[:, top // factor : bottom // factor, left // factor : right // factor].float()
            flat = core.flatten(1)
            total, total_sq = flat.sum(1).double(), flat.square().sum(1).double()
            self.sum = total if self.sum is None else self.sum + total
            self.sum_sq = total_sq if self.sum_sq is None else self.sum_sq + total_sq
            self.count += flat.shape[1]
