"""Instance normalisation with whole-image statistics, so that tiles of one image agree.

Instance norm normalises each feature map by its own mean and variance. Run tile by tile, every
tile gets different statistics and the seams show as brightness and colour jumps. Here each
`nn.InstanceNorm2d` of a net is swapped for `GlobalStatsNorm`, which can

- `collect`: accumulate per-channel sums over each tile's core region (the part of the tile that
  no other tile owns), so after one pass over all tiles it holds whole-image statistics;
- `fixed`: normalise with statistics set beforehand instead of the tile's own;
- `stop_after`: raise `StopForward` once collected, so a statistics pass for layer k costs only
  the layers up to k.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator, Sequence

import torch
import torch.nn.functional as F
from torch import nn

Box = tuple[int, int, int, int]  # (top, bottom, left, right) in input pixels of the tile


class StopForward(Exception):
    """Raised by a collecting norm with `stop_after` set: the rest of the net is not needed."""


class GlobalStatsNorm(nn.Module):
    """An `InstanceNorm2d` (affine) whose mean and variance can be collected or fixed."""

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


def with_global_stats(net: nn.Module) -> nn.Module:
    """A copy of `net` (weights shared) with every InstanceNorm2d replaced by `GlobalStatsNorm`."""
    clone = copy.copy(net)
    clone._modules = dict(net._modules)
    for name, child in net.named_children():
        if isinstance(child, nn.InstanceNorm2d):
            clone._modules[name] = GlobalStatsNorm(child)
        else:
            clone._modules[name] = with_global_stats(child)
    return clone


def norms(net: nn.Module) -> Iterator[GlobalStatsNorm]:
    return (m for m in net.modules() if isinstance(m, GlobalStatsNorm))


def set_tiles(net: nn.Module, cores: Sequence[Box], tile_height: int) -> None:
    """Tell every `GlobalStatsNorm` of `net` which core boxes the next batch of tiles owns."""
    for norm in norms(net):
        norm.cores = cores
        norm.tile_height = tile_height


def clear(net: nn.Module) -> None:
    """Back to plain instance normalisation."""
    for norm in norms(net):
        norm.fixed = None
        norm.collect = norm.stop_after = False
        norm.reset_sums()
