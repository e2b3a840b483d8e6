"""One photo file in a reference's look: the call for a service that handles one job at a time.

    from fst.photo.files import photo_look_file
    photo_look_file(Path("photo.jpg"), Path("reference.jpg"), Path("out.jpg"), on_progress=print)

The web worker calls this (it never decodes or encodes itself); the batch job
(`stylize.py --photo-style`) runs the same `PhotoLook` over folders.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from fst.io.images import read_image
from fst.photo.transfer import Method, PhotoLook
from fst.stylize.engine import write_uint8
from fst.stylize.options import OutputOptions


def photo_look_file(
    photo: Path,
    reference: Path,
    target: Path,
    masks: tuple[Path, Path] | None = None,
    on_progress: Callable[[float], None] = lambda _: None,
    method: Method = "sliced",
    output: OutputOptions | None = None,
) -> None:
    """Write `target` (format from its extension, atomically): `photo` in `reference`'s look.

    Args:
        masks: (photo's mask, reference's mask), colour-coded regions; None: the whole image.
        on_progress: called with the share done, 0..1, after each stage.

    Raises:
        ImageReadError: the photo or reference cannot be read (one line naming it).
        MaskError: a mask cannot be read or belongs to another photo (one line naming it).
    """
    decoded = read_image(photo, keep_alpha=True)
    on_progress(0.2)
    look = PhotoLook.from_file(reference, method=method)
    regions = None
    if masks is not None:
        regions = look.region_masks((decoded.rgb.height, decoded.rgb.width), masks[0], masks[1])
    on_progress(0.4)
    stylized = look(decoded.rgb, regions)
    on_progress(0.9)
    write_uint8(stylized, target, output or OutputOptions(), decoded.alpha)
    on_progress(1.0)
