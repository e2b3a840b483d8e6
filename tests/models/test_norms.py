from __future__ import annotations

import pytest
import torch
from torch import nn
from torch._dynamo.testing import CompileCounter

from fst.models.norms import GlobalStatsNorm, MaskedInstanceNorm, MaskedNet, MaskSlot
from fst.models.transformer import TransformerNet
from fst.stylize.buckets import valid_mask


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


def test_masked_norm_with_all_ones_mask_is_instance_norm(norm: nn.InstanceNorm2d) -> None:
    slot = MaskSlot()
    masked = MaskedInstanceNorm(norm, slot)
    x = torch.randn(2, 4, 12, 10) * 3 + 1
    slot.mask = torch.ones(1, 1, 12, 10)
    with torch.no_grad():
        torch.testing.assert_close(masked(x), norm(x))


def test_masked_norm_normalises_the_region_as_if_cropped(norm: nn.InstanceNorm2d) -> None:
    slot = MaskSlot()
    masked = MaskedInstanceNorm(norm, slot)
    x = torch.randn(2, 4, 16, 16)
    x[..., 9:, :] += 50.0  # padding far from the image's statistics
    slot.mask = valid_mask(9, 11, (16, 16))
    with torch.no_grad():
        torch.testing.assert_close(masked(x)[..., :9, :11], norm(x[..., :9, :11]))


def test_masked_net_takes_the_mask_as_an_input(tiny_net: TransformerNet) -> None:
    # One traced graph for every mask of a shape: the bucket's whole point.
    masked = MaskedNet(tiny_net)
    counter = CompileCounter()
    compiled = torch.compile(masked, backend=counter, dynamic=False)
    x = torch.rand(1, 3, 64, 64)
    with torch.inference_mode():
        for height, width in [(50, 40), (33, 60), (64, 64)]:
            mask = valid_mask(height, width, (64, 64))
            assert torch.equal(compiled(x, mask), masked(x, mask))
    assert counter.frame_count == 1
    assert masked.slot.mask is None  # not kept alive between batches


def test_masked_net_exports_with_the_mask_as_an_input(tiny_net: TransformerNet) -> None:
    masked = MaskedNet(tiny_net)
    x = torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        program = torch.export.export(masked, (x, valid_mask(32, 32, (32, 32))))
        mask = valid_mask(20, 28, (32, 32))
        torch.testing.assert_close(program.module()(x, mask), masked(x, mask))


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
