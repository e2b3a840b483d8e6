"""Forms at a working size: large images get their low frequencies from a pass at `form_size`."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

import stylize
from fst.models.transformer import TransformerNet
from fst.resize import resize
from fst.stylize.arbitrary import ArbitraryStylizer
from fst.stylize.controls import forms_pass_size, paint_forms
from fst.stylize.options import Controls, OptionError, Performance, TilingOptions
from fst.stylize.progress import Progress
from fst.stylize.stylizer import Stylizer, to_float
from fst.stylize.tiling import psnr
from tests.stylize.helpers import noise_image


class Recording(nn.Module):
    """The net, noting the size of every batch it is given."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net, self.sizes = net, []

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.sizes.append(tuple(x.shape[-2:]))
        return self.net(x)


def stylizer(net: nn.Module, form_size: int, max_pixels: int = 6_000_000) -> Stylizer:
    return Stylizer(
        net,
        "tiny",
        torch.device("cpu"),
        controls=Controls(form_size=form_size),
        tiling=TilingOptions(max_pixels=max_pixels, tile_size=64, overlap=48),
        performance=Performance(precision="fp32"),
    )


def photo(height: int, width: int) -> torch.Tensor:
    """A smooth uint8 picture (noise would have no low band to speak of)."""
    torch.manual_seed(1)
    return (resize(torch.rand(1, 3, 6, 8), (height, width)) * 255).round().to(torch.uint8)


def test_forms_pass_size_only_for_images_larger_than_it() -> None:
    assert forms_pass_size(500, 700, 768) is None
    assert forms_pass_size(768, 500, 768) is None  # not larger
    assert forms_pass_size(1000, 1500, 768) == (512, 768)
    assert forms_pass_size(1500, 1000, 768) == (768, 512)
    assert forms_pass_size(1000, 1500, 0) is None  # off


def test_paint_forms_takes_the_low_band_from_forms() -> None:
    detail = torch.full((1, 3, 40, 60), 0.2)
    forms = torch.full((1, 3, 10, 15), 0.7)
    torch.testing.assert_close(paint_forms(detail, forms), torch.full((1, 3, 40, 60), 0.7))


def test_paint_forms_keeps_detail_whose_low_band_already_agrees() -> None:
    torch.manual_seed(0)
    detail = torch.rand(1, 3, 40, 60)
    forms = resize(detail, (10, 15))
    torch.testing.assert_close(paint_forms(detail.clone(), forms), detail)


def test_paint_forms_keeps_the_fine_texture_of_detail() -> None:
    torch.manual_seed(0)
    texture = (torch.rand(1, 3, 64, 96) - 0.5) * 0.2
    detail = 0.4 + texture
    painted = paint_forms(detail.clone(), torch.full((1, 3, 16, 24), 0.6))

    def high_band(image: torch.Tensor) -> torch.Tensor:
        return image - resize(resize(image, (16, 24)), (64, 96), clamp=False)

    assert (painted.mean() - 0.6).abs() < 0.01  # the low band moved to the forms'
    # Kept up to the resampling's own loss (down(up(x)) is close to x, not x).
    assert (high_band(painted) - high_band(detail)).norm() < 0.1 * high_band(detail).norm()


def test_a_large_image_runs_at_full_size_and_at_form_size(tiny_net: TransformerNet) -> None:
    recording = Recording(tiny_net)
    image = photo(48, 64)
    out = stylizer(recording, form_size=32)(image)
    assert recording.sizes == [(48, 64), (24, 32)]
    assert out.shape == image.shape and out.dtype == torch.uint8
    # The two passes, combined by paint_forms, and nothing else.
    with torch.inference_mode():
        full, small = tiny_net(to_float(image)), tiny_net(resize(to_float(image), (24, 32)))
        expected = (paint_forms(full.clone(), small).clamp(0, 1) * 255).round()
    assert (out.float() - expected).abs().max() <= 1
    # ... which differs from the full-size pass alone.
    assert (out.float() - (full.clamp(0, 1) * 255).round()).abs().max() > 5


@pytest.mark.parametrize(("height", "width", "form_size"), [(24, 32, 32), (48, 64, 0)])
def test_one_pass_when_small_or_off(tiny_net: TransformerNet, height: int, width: int, form_size: int) -> None:
    recording = Recording(tiny_net)
    stylizer(recording, form_size)(photo(height, width))
    assert recording.sizes == [(height, width)]


def test_tiled_large_image_matches_untiled_with_forms(tiny_net: TransformerNet) -> None:
    image = photo(96, 128)
    whole = stylizer(tiny_net, form_size=48)(image)
    tiled = stylizer(tiny_net, form_size=48, max_pixels=4096)(image)  # the full pass in tiles
    assert psnr(whole.float() / 255, tiled.float() / 255) >= 40.0


def test_progress_runs_through_both_passes_once(tiny_net: TransformerNet) -> None:
    reported: list[float] = []
    image = photo(48, 64)
    out = stylizer(tiny_net, form_size=32)(image, Progress(reported.append))
    assert reported == sorted(set(reported)), "progress went back or repeated itself"
    assert reported[-1] == 1.0
    # The full pass (4x the pixels of the forms pass) ends at 0.95 * 4/5; the forms pass follows.
    assert any(abs(value - 0.76) < 1e-6 for value in reported) and any(0.76 < v < 1.0 for v in reported)
    assert torch.equal(out, stylizer(tiny_net, form_size=32)(image))


def test_default_form_size_is_the_stylizers(tiny_net: TransformerNet) -> None:
    recording = Recording(tiny_net)
    plain = Stylizer(recording, "tiny", torch.device("cpu"), performance=Performance(precision="fp32"))
    assert plain.controls.form_size is None and plain.default_form_size == 512
    plain(photo(40, 600))
    assert recording.sizes == [(40, 600), (34, 512)]
    assert ArbitraryStylizer.default_form_size == 0  # not measured for AdaIN: one pass


def test_negative_form_size_is_refused() -> None:
    with pytest.raises(OptionError, match="form_size must be 0"):
        Controls(form_size=-1)


def test_cli_form_size_is_one_line(tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    noise_image(40, 30).save(tmp_path / "a.png")
    args = [str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "-c", str(tiny_checkpoint), "--no-progress"]
    assert stylize.main([*args, "--form-size", "-5"]) == 2
    assert "--form-size must be 0 (off)" in capsys.readouterr().err
    assert stylize.main([*args, "--form-size", "16"]) == 0
    assert (tmp_path / "out" / "a.png").exists()
