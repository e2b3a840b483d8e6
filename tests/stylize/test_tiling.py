from __future__ import annotations

import itertools

import pytest
import torch

from fst.models.transformer import TransformerNet
from fst.stylize.tiling import core_bounds, psnr, stylize_tiled, tile_starts


@pytest.mark.parametrize(("length", "tile", "overlap"), [(100, 40, 16), (64, 64, 16), (8, 64, 16), (1000, 256, 64)])
def test_tiles_cover_and_cores_partition(length: int, tile: int, overlap: int) -> None:
    starts = tile_starts(length, tile, overlap)
    size = min(tile, length)
    assert starts[0] == 0 and starts[-1] + size == length
    assert all(b - a <= size - overlap for a, b in itertools.pairwise(starts))
    cores = core_bounds(starts, size, length)
    assert cores[0][0] == 0 and cores[-1][1] == length
    assert all(a[1] == b[0] for a, b in itertools.pairwise(cores))
    assert all(start <= low and high <= start + size for start, (low, high) in zip(starts, cores, strict=True))


@pytest.mark.parametrize(("height", "width"), [(96, 131), (61, 200)])
def test_tiled_matches_untiled(tiny_net: TransformerNet, height: int, width: int) -> None:
    image = torch.rand(3, height, width)
    with torch.no_grad():
        whole = tiny_net(image[None])[0]
    tiled = stylize_tiled(tiny_net, image, tile_size=64, overlap=48, batch_size=2)
    assert tiled.shape == image.shape
    assert psnr(tiled, whole) > 40.0


def test_tiled_matches_untiled_without_full_resolution_stages() -> None:
    # The space-to-depth layout's first and last stages are a pixel unshuffle and shuffle.
    net = TransformerNet(channels=(16, 32), num_residual_blocks=2, space_to_depth=True).eval()
    image = torch.rand(3, 90, 133)
    with torch.no_grad():
        whole = net(image[None])[0]
    tiled = stylize_tiled(net, image, tile_size=64, overlap=48, batch_size=2)
    assert tiled.shape == image.shape
    assert psnr(tiled, whole) > 40.0


def test_cache_on_disk_gives_the_same_result(tiny_net: TransformerNet) -> None:
    image = torch.rand(3, 80, 100)
    in_ram = stylize_tiled(tiny_net, image, tile_size=48, overlap=16)
    on_disk = stylize_tiled(tiny_net, image, tile_size=48, overlap=16, cache_ram_bytes=0)
    torch.testing.assert_close(on_disk, in_ram, rtol=0, atol=0)


def test_uint8_image_equals_float_image(tiny_net: TransformerNet) -> None:
    image = torch.randint(0, 256, (3, 70, 90), dtype=torch.uint8)
    from_uint8 = stylize_tiled(tiny_net, image, tile_size=48, overlap=16)
    torch.testing.assert_close(from_uint8, stylize_tiled(tiny_net, image.float() / 255, tile_size=48, overlap=16))
