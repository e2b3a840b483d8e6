"""A `--photo-style` run's look, output name and masks from its `StyleChoice`."""

from __future__ import annotations

from pathlib import Path

from fst.photo.masks import MaskPairs
from fst.photo.transfer import PhotoLook
from fst.stylize.options import StyleChoice


def load_look(choice: StyleChoice) -> tuple[PhotoLook, str, MaskPairs | None]:
    """(look, output name, masks or None).

    Raises:
        ImageReadError: an unreadable reference (one line naming it).
        CheckpointError: `photo_method="network"` without a usable AdaIN model.
    """
    assert choice.photo_style is not None
    model = None
    if choice.photo_method == "network":
        from fst.checkpoint import load_adain
        from fst.stylize.arbitrary import DEFAULT_MODEL

        model = load_adain(Path(choice.checkpoints[0]) if choice.checkpoints else DEFAULT_MODEL)[0]
    look = PhotoLook.from_file(
        Path(choice.photo_style), method=choice.photo_method, model=model, luminance=choice.photo_luminance
    )
    masks = MaskPairs(*choice.masks) if choice.masks else None
    return look, Path(choice.photo_style).stem, masks
