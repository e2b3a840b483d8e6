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
from fst.photo import affine, colour, structure
from fst.photo.lab import lab_to_rgb, rgb_to_lab
from fst.resize import long_side_size

Method = Literal["sliced", "covariance", "reinhard", "network"]
WORK_SIZE = 512  # long side of the target and of the affine fit
# The target and the fit are hundreds of small ops on 0.2 MP maps, and the full-resolution pass is
# elementwise: on the busy 2-core CPU (training beside it) a second thread cost more than it saved
# (target + fit 1.6 s on two threads, 0.55 s on one; the 12 MP pass 3.6 s against 1.7 s).
LOOK_THREADS = 1
# The structure kept when the lightness share is chosen per photo: SSIM of the luminance at the
# working size. Above the 0.75 below which an output stops reading as the same photograph, for
# the margin between this 512 px estimate and the output as seen.
STRUCTURE_FLOOR = 0.8


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
    # Share of the reference's lightness taken (its colour is taken whole); None: the largest share
    # whose output keeps `structure_floor` SSIM of the photo's luminance at the working size.
    luminance: float | None = None
    structure_floor: float = STRUCTURE_FLOOR
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

    def targets(self, small: torch.Tensor, regions: RegionMasks | None = None) -> tuple[torch.Tensor, torch.Tensor]:
        """The low-resolution photo (1, 3, h, w) in the reference's colours, twice: with the photo's
        own lightness (share 0), and with the reference's lightness as well (share 1)."""
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
        full = lab_to_rgb(lab)
        lab[:, :1] = photo_lab[:, :1]
        return lab_to_rgb(lab), full

    def coefficients(self, small: torch.Tensor, regions: RegionMasks | None = None) -> torch.Tensor:
        """The affine model (1, 12, h, w) of the photo's look at its working size `small`.

        The fit is linear in its target (but for its prior's gain limit, which a mix keeps), so the
        model of a lightness share is that share of the way between the models of the two
        `targets`: the share is searched without refitting.
        """
        colour_only, full = self.targets(small, regions)
        fitted = [affine.fit(small, target, self.radius, self.eps) for target in (colour_only, full)]
        photo_luma = structure.luma(small)

        def model(share: float) -> torch.Tensor:
            return torch.lerp(fitted[0], fitted[1], share)

        def keeps(share: float) -> float:
            return structure.ssim(structure.luma(affine.apply(model(share), small).clamp(0, 1)), photo_luma)

        share = self.luminance if self.luminance is not None else structure.largest_share(keeps, self.structure_floor)
        return model(share)

    @torch.inference_mode()
    def __call__(self, photo: Image.Image, regions: RegionMasks | None = None) -> torch.Tensor:
        """An RGB photo of any size in the reference's look: (3, H, W) uint8.

        Args:
            regions: from `region_masks` for this photo's size, or None for the whole image.
        """
        with intra_op_threads(LOOK_THREADS):
            small = shrink(photo, self.work_size)
            return affine.apply_in_strips(self.coefficients(small, regions), uint8_view(photo))
