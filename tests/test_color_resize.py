import pytest
import torch

from fst.color import grey, luminance, match_luminance, preserve_color
from fst.resize import long_side_size, resize, resize_long_side


def test_preserve_color_keeps_content_chroma_and_stylized_luma() -> None:
    content = torch.rand(1, 3, 16, 16) * 0.5 + 0.25  # away from the clamp
    stylized = torch.rand(1, 3, 16, 16) * 0.2 + 0.4
    kept = preserve_color(content, stylized)
    torch.testing.assert_close(luminance(kept), luminance(stylized), atol=1e-6, rtol=0)
    # Chroma (RGB minus luma) is the content's.
    torch.testing.assert_close(kept - luminance(kept), content - luminance(content), atol=1e-6, rtol=0)


def test_luminance_only_transfer_round_trips() -> None:
    image = torch.rand(1, 3, 8, 8) * 0.6 + 0.2
    torch.testing.assert_close(preserve_color(image, grey(image)), image, atol=1e-6, rtol=0)


def test_matched_luminance_has_the_contents_statistics() -> None:
    style, content = torch.rand(1, 3, 32, 32) * 0.3, torch.rand(1, 3, 32, 32) * 0.5 + 0.25
    matched = luminance(match_luminance(style, content))
    assert float(matched.mean()) == pytest.approx(float(luminance(content).mean()), abs=1e-3)
    assert float(matched.std()) == pytest.approx(float(luminance(content).std()), rel=1e-2)


def test_long_side_resize_keeps_aspect_both_ways() -> None:
    assert long_side_size(300, 200, 150) == (150, 100)
    assert long_side_size(1, 1000, 10) == (1, 10)
    image = torch.rand(1, 3, 30, 20)
    assert resize_long_side(image, 60).shape[-2:] == (60, 40)
    assert resize_long_side(image, 15).shape[-2:] == (15, 10)
    assert resize_long_side(image, None) is image


def test_resize_stays_in_range_and_is_antialiased() -> None:
    stripes = torch.zeros(1, 3, 64, 64)
    stripes[..., ::2] = 1.0  # one-pixel stripes: aliasing would keep them at 0 or 1
    small = resize(stripes, (16, 16))
    assert small.min() >= 0 and small.max() <= 1
    assert (small - 0.5).abs().max() < 0.1
    assert resize(torch.rand(1, 3, 8, 8), (20, 20)).amax() <= 1


def test_shrinking_uses_the_filter_the_shipped_style_targets_were_computed_with() -> None:
    # Antialiased bicubic here once doubled the shipped starry_night net's style loss in
    # `fst.optimize.compare`: the loss rebuilt from a checkpoint must resample as training did.
    image = torch.rand(1, 3, 64, 48)
    expected = torch.nn.functional.interpolate(image, size=(16, 12), mode="bilinear", antialias=True)
    torch.testing.assert_close(resize(image, (16, 12)), expected.clamp(0, 1))
