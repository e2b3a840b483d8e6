"""Which images run whole and which in tiles: --max-pixels when given, else the net's measured limit."""

from __future__ import annotations

import pytest
import torch

from fst.models.transformer import TransformerNet
from fst.stylize.options import Performance, TilingOptions
from fst.stylize.stylizer import Stylizer

FULL = TransformerNet((8, 16, 32), 1)
SPACE_TO_DEPTH = TransformerNet((8, 16), 1, space_to_depth=True)


def make(net: TransformerNet, max_pixels: int | None = None) -> Stylizer:
    tiling = TilingOptions(max_pixels=max_pixels, tile_size=48, overlap=16)
    return Stylizer(net, "tiny", torch.device("cpu"), tiling=tiling, performance=Performance(precision="fp32"))


def test_by_default_a_net_without_full_resolution_stages_runs_larger_images_whole() -> None:
    full, s2d = make(FULL), make(SPACE_TO_DEPTH)
    assert full.whole_image_limit(compiled=False) == full.whole_image_limit(compiled=True) == 6_000_000
    assert s2d.whole_image_limit(compiled=False) == 6_000_000  # eager: a 12-MP photo whole took 3 GiB
    assert s2d.whole_image_limit(compiled=True) == 24_000_000  # 6000x4000 runs whole, compiled


@pytest.mark.parametrize("net", [FULL, SPACE_TO_DEPTH], ids=["full", "space_to_depth"])
def test_max_pixels_when_given_is_the_limit_for_every_net(net: TransformerNet) -> None:
    stylizer = make(net, max_pixels=30_000_000)
    assert stylizer.whole_image_limit(compiled=False) == stylizer.whole_image_limit(compiled=True) == 30_000_000


def test_the_limit_decides_whole_or_tiles(monkeypatch: pytest.MonkeyPatch) -> None:
    image = (torch.rand(1, 3, 64, 80) * 255).to(torch.uint8)  # 5,120 px
    monkeypatch.setattr(Stylizer, "EAGER_MAX_PIXELS", 5_000)
    monkeypatch.setattr(Stylizer, "SPACE_TO_DEPTH_COMPILED_MAX_PIXELS", 6_000)
    tiled: list[str] = []
    original = Stylizer._tiled_batch

    def recording(self: Stylizer, images: torch.Tensor, progress: object) -> torch.Tensor:
        tiled.append("space_to_depth" if self.net.space_to_depth else "full")
        return original(self, images, progress)

    monkeypatch.setattr(Stylizer, "_tiled_batch", recording)
    for net in (FULL, SPACE_TO_DEPTH):
        stylizer = make(net)
        stylizer.compiled = net  # stands in for the package: any callable on padded batches
        out = stylizer(image)
        assert out.shape == image.shape and out.dtype == torch.uint8
    assert tiled == ["full"]  # compiled, over the full-resolution net's limit, under the other's
