from __future__ import annotations

import pytest
import torch
from torch import nn

from fst.models.norms import GlobalStatsNorm
from fst.models.transformer import TransformerNet


@pytest.fixture
def norm() -> nn.InstanceNorm2d:
    torch.manual_seed(0)
    norm = nn.InstanceNorm2d(4, affine=True)
    with torch.no_grad():  # not the identity affine: a swapped weight and bias would show
        norm.weight.uniform_(0.5, 2.0)
        norm.bias.uniform_(-1.0, 1.0)
    return norm


@pytest.fixture
def tiny_net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(channels=(8, 16, 32), num_residual_blocks=2).eval()


def test_fixed_stats_equal_to_the_image_own_are_instance_norm(norm: nn.InstanceNorm2d) -> None:
    global_norm = GlobalStatsNorm(norm)
    x = torch.randn(1, 4, 12, 10) * 2 - 1
    global_norm.fixed = (x.mean((0, 2, 3)), x.var((0, 2, 3), unbiased=False))
    with torch.no_grad():
        torch.testing.assert_close(global_norm(x), norm(x))


def test_collected_stats_over_cores_are_whole_image_stats(norm: nn.InstanceNorm2d) -> None:
    # Two tiles of a 16x24 image, overlapping 8 px, each owning half of it.
    global_norm = GlobalStatsNorm(norm)
    image = torch.randn(1, 4, 16, 24)
    tiles = torch.cat([image[..., :16], image[..., 8:]])
    global_norm.collect, global_norm.cores, global_norm.tile_height = True, [(0, 16, 0, 12), (0, 16, 4, 16)], 16
    with torch.no_grad():
        global_norm(tiles)
    mean, var = global_norm.collected()
    torch.testing.assert_close(mean, image.mean((0, 2, 3)))
    torch.testing.assert_close(var, image.var((0, 2, 3), unbiased=False))


def test_global_stats_net_is_unchanged_by_default(tiny_net: TransformerNet) -> None:
    wrapped = tiny_net.with_norms(GlobalStatsNorm)
    assert sum(isinstance(m, GlobalStatsNorm) for m in wrapped.modules()) == 3 + 2 * 2 + 2
    x = torch.rand(1, 3, 20, 24)
    with torch.no_grad():
        torch.testing.assert_close(wrapped(x), tiny_net(x))
