"""One reference photo's look on any photo: a low-resolution target, then a local affine colour
model fitted to it and applied at full resolution.

    look = PhotoLook.from_file(Path("reference.jpg"))
    stylized = look(photo)  # PIL RGB in, (3, H, W) uint8 out, any size

Steps: the photo shrunk to `work_size` (long side) -> its target colours (`method`: a colour
transfer in Lab, `fst.photo.colour`, or the network's decoded WCT features, `fst.photo.features`),
region by region with masks -> the edge-aware affine model of target on photo (`fst.photo.affine`)
-> that model on the full-resolution photo, in strips. Only the strips are ever float, so memory
grows with the image's bytes, not with a network's activations.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image

from fst.device import intra_op_threads
from fst.io.images import read_image
from fst.optimize.masks import RegionMasks, load_region_masks
from fst.photo import affine, colour
from fst.photo.lab import lab_to_rgb, rgb_to_lab
from fst.resize import long_side_size

Method = Literal["sliced", "covariance", "reinhard", "network"]
WORK_SIZE = 512  # long side of the target and of the affine fit
# The target and the fit are hundreds of small ops on 0.2 MP maps, and the full-resolution pass is
# elementwise: on the busy 2-core CPU (training beside it) a second thread cost more than it saved
# (target + fit 1.6 s on two threads, 0.55 s on one; the 12 MP pass 3.6 s against 1.7 s).
LOOK_THREADS = 1


def shrink(image: Image.Image, long_side: int) -> torch.Tensor:
    """(1, 3, h, w) float in [0, 1] of an RGB image with its long side at most `long_side`.

    PIL resizes the 8-bit image (antialiased) so a 12 MP photo is never a float tensor.
    """
    height, width = long_side_size(image.height, image.width, min(long_side, max(image.size)))
    small = image if (width, height) == image.size else image.resize((width, height), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(small, dtype=np.uint8).copy()).permute(2, 0, 1)[None].float().div_(255.0)


def uint8_view(image: Image.Image) -> torch.Tensor:
    """(3, H, W) uint8 tensor of an RGB image (one copy of its pixels, as a channel-first view)."""
    return torch.from_numpy(np.array(image, dtype=np.uint8)).permute(2, 0, 1)


@dataclass
class PhotoLook:
    """A reference photo's colours, ready to give to any photo.

    Args:
        reference: (1, 3, h, w) float RGB in [0, 1], long side `work_size` at most.
        method: how the low-resolution target is made (see the module docstring).
        radius, eps: the affine model's window (pixels at `work_size`) and smoothness.
        model: the AdaIN model (encoder + decoder) for `method="network"`.
    """

    reference: torch.Tensor
    method: Method = "sliced"
    work_size: int = WORK_SIZE
    radius: int = 8
    eps: float = 1e-2
    luminance: float = 0.7  # share of the target's lightness change taken (its colour is taken whole)
    model: torch.nn.Module | None = None

    @classmethod
    def from_file(cls, path: Path, **options: object) -> PhotoLook:
        """Raises `ImageReadError` (one line naming the file) for an unreadable reference."""
        work_size = int(options.get("work_size", WORK_SIZE))  # type: ignore[arg-type]
        return cls(shrink(read_image(path).rgb, work_size), **options)  # type: ignore[arg-type]

    def region_masks(self, photo_size: tuple[int, int], content_seg: Path, reference_seg: Path) -> RegionMasks:
        """Matched region masks at the working sizes of a (H, W) photo and of the reference.

        Raises:
            MaskError, ImageReadError: a mask that cannot be read or belongs to another photo.
        """
        work = long_side_size(*photo_size, min(self.work_size, max(photo_size)))
        return load_region_masks(content_seg, reference_seg, work, tuple(self.reference.shape[-2:]))

    def target(self, small: torch.Tensor, regions: RegionMasks | None = None) -> torch.Tensor:
        """The low-resolution photo (1, 3, h, w) in the reference's colours: what the affine model fits."""
        photo_masks = regions.content if regions is not None else None
        reference_masks = regions.style if regions is not None else None
        photo_lab = rgb_to_lab(small)
        if self.method == "network":
            from fst.photo.features import decoded_target

            if self.model is None:
                raise ValueError("method 'network' needs the AdaIN model")
            decoded = decoded_target(self.model, small, self.reference, photo_masks, reference_masks)
            lab = rgb_to_lab(decoded)
        else:
            reference_lab = rgb_to_lab(self.reference)
            lab = colour.transfer_by_region(photo_lab, reference_lab, self.method, photo_masks, reference_masks)
        # Lightness moves part of the way (the displacement interpolation of its 1-D transport map):
        # the structure measure drops with every step of brightness and contrast taken.
        lab[:, :1] = torch.lerp(photo_lab[:, :1], lab[:, :1], self.luminance)
        return lab_to_rgb(lab)

    @torch.inference_mode()
    def __call__(self, photo: Image.Image, regions: RegionMasks | None = None) -> torch.Tensor:
        """An RGB photo of any size in the reference's look: (3, H, W) uint8.

        Args:
            regions: from `region_masks` for this photo's size, or None for the whole image.
        """
        with intra_op_threads(LOOK_THREADS):
            small = shrink(photo, self.work_size)
            coefficients = affine.fit(small, self.target(small, regions), self.radius, self.eps)
            return affine.apply_in_strips(coefficients, uint8_view(photo))
