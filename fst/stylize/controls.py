"""What users dial around the net: strength, colour preservation, the stroke-scale resize, and the
size at which large images get their forms."""

from __future__ import annotations

import torch

from fst.color import preserve_color
from fst.resize import long_side_size, resize


def blend(content: torch.Tensor, stylized: torch.Tensor, strength: float) -> torch.Tensor:
    """Linear mix: strength 1 is the full style, 0 the untouched content."""
    if not 0.0 <= strength <= 1.0:
        raise ValueError(f"strength must be in [0, 1], got {strength}")
    return stylized if strength == 1.0 else torch.lerp(content, stylized, strength)


def apply_controls(
    content: torch.Tensor, stylized: torch.Tensor, strength: float = 1.0, keep_color: bool = False
) -> torch.Tensor:
    """Colour preservation, then strength, on (N, 3, H, W) tensors of equal size."""
    if keep_color:
        stylized = preserve_color(content, stylized)
    return blend(content, stylized, strength)


def scaled_size(height: int, width: int, content_scale: float) -> tuple[int, int]:
    """Size the net sees for `content_scale` (< 1: larger strokes relative to the image)."""
    return max(1, round(height * content_scale)), max(1, round(width * content_scale))


def forms_pass_size(height: int, width: int, form_size: int) -> tuple[int, int] | None:
    """The size of the forms pass for an image the net sees at (height, width): its long side at
    `form_size`; None when the image is no larger (or `form_size` is 0: one pass at full size)."""
    if form_size <= 0 or max(height, width) <= form_size:
        return None
    return long_side_size(height, width, form_size)


def paint_forms(detail: torch.Tensor, forms: torch.Tensor) -> torch.Tensor:
    """`detail` (the full-size pass) with the frequencies below `forms`' size taken from `forms`.

    A style net paints strokes and forms of a fixed size in pixels, so on a large image they come
    out small against the picture. `forms`, the same image stylized at a working size, has them at
    the painting's scale; `detail` keeps the fine texture at 1:1. The result is
    detail + up(forms - down(detail)), the two-band swap of a Laplacian pyramid, computed at the low
    size and enlarged once. Modifies `detail` in place.
    """
    difference = forms - resize(detail, tuple(forms.shape[-2:]))
    return detail.add_(resize(difference, tuple(detail.shape[-2:]), clamp=False))
