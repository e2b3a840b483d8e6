"""Which content mask goes with which photo of a `--photo-style` job (`--masks CONTENT_SEG REF_SEG`).

CONTENT_SEG is one colour-coded mask file, for a job of one photo, or a folder of masks named as
the photos (same stem, any image extension: `in1.png` for `in1.jpg`), at its top level. REF_SEG is
the reference's mask. Regions are matched by colour (`fst.optimize.masks`, Luan et al.'s format).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from fst.io.images import IMAGE_EXTENSIONS
from fst.optimize.masks import MaskError


@dataclass(frozen=True)
class MaskPairs:
    content: Path  # a mask file (one photo) or a folder of masks named as the photos
    reference: Path

    def check(self, photos: int) -> None:
        """Raises `MaskError` (one line) for masks that cannot serve a job of `photos` photos."""
        if not self.reference.is_file():
            raise MaskError(f"{self.reference}: no such reference mask")
        if self.content.is_dir():
            return
        if not self.content.is_file():
            raise MaskError(f"{self.content}: no such mask file or folder")
        if photos > 1:
            raise MaskError(
                f"{self.content}: one content mask for {photos} photos; pass a folder of masks named as the photos"
            )

    def content_for(self, photo: Path) -> Path:
        """The content mask of `photo`. Raises `MaskError` naming the photo when the folder has none."""
        if self.content.is_file():
            return self.content
        for suffix in IMAGE_EXTENSIONS:
            for candidate in (self.content / f"{photo.stem}{suffix}", self.content / f"{photo.stem}{suffix.upper()}"):
                if candidate.is_file():
                    return candidate
        raise MaskError(f"{photo}: no mask named {photo.stem}.* in {self.content}")
