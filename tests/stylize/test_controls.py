from __future__ import annotations

import torch

from fst.color import luminance
from fst.resize import resize
from fst.stylize.controls import apply_controls, scaled_size


def test_strength_endpoints() -> None:
    content, stylized = torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8)
    assert torch.equal(apply_controls(content, stylized, strength=0.0), content)
    assert torch.equal(apply_controls(content, stylized, strength=1.0), stylized)
    half = apply_controls(content, stylized, strength=0.5)
    torch.testing.assert_close(half, (content + stylized) / 2)


def test_preserve_color_keeps_content_chroma_and_stylized_luma() -> None:
    content = torch.rand(1, 3, 16, 16) * 0.5 + 0.25  # away from the clamp
    stylized = torch.rand(1, 3, 16, 16) * 0.2 + 0.4
    kept = apply_controls(content, stylized, keep_color=True)
    torch.testing.assert_close(luminance(kept), luminance(stylized), atol=1e-6, rtol=0)
    # Chroma (RGB minus luma) is the content's.
    torch.testing.assert_close(kept - luminance(kept), content - luminance(content), atol=1e-6, rtol=0)


def test_scale_and_resize_back() -> None:
    image = torch.rand(1, 3, 37, 51)
    size = scaled_size(37, 51, 0.5)
    assert size == (18, 26) or size == (19, 26)
    assert resize(resize(image, size), (37, 51)).shape == image.shape
