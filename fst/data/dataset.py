"""Datasets over a folder of photos (recursive; COCO's flat `train2014/` works as is).

Training samples are addressed by their *position* in an endless stream rather than by file:
position p is file `perm_e[p mod n]` of epoch e = p // n, cropped with a generator seeded by p.
The whole input of step s is therefore a pure function of (seed, s), which is what makes a
resumed run bit-for-bit the same as an uninterrupted one, on any number of workers or GPUs.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterator, Sequence
from pathlib import Path

import torch
from PIL import Image
from torch.utils.data import Dataset, Sampler

from fst.io.images import IMAGE_EXTENSIONS, ImageReadError, load_rgb, pil_to_tensor

log = logging.getLogger(__name__)


def list_images(root: str | Path) -> list[Path]:
    """All image files under `root`, recursively, in a stable (sorted) order."""
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"image folder not found: {root}")
    files = sorted(p for p in root.rglob("*") if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file())
    if not files:
        raise FileNotFoundError(f"no images ({', '.join(IMAGE_EXTENSIONS)}) under {root}")
    return files


def is_validation_file(path: Path, fraction: float) -> bool:
    """Stable split by a hash of the file name: adding files never moves old ones across."""
    digest = hashlib.sha1(path.name.encode()).digest()
    return int.from_bytes(digest[:4], "big") / 2**32 < fraction


ShortSide = int | Sequence[int] | None  # one short side, or a [low, high] range to draw from


def draw_short_side(short_side: ShortSide, generator: torch.Generator | None) -> int | None:
    """`short_side` itself, or from a [low, high] range a uniform draw (its low end without a
    generator: validation crops stay fixed)."""
    if short_side is None or isinstance(short_side, int):
        return short_side
    low, high = (int(side) for side in short_side)
    if not 0 < low <= high:
        raise ValueError(f"resize_to range must be [low, high] with 0 < low <= high, got {list(short_side)}")
    if generator is None:
        return low
    return int(torch.randint(low, high + 1, (1,), generator=generator))


def resize_crop(
    image: Image.Image, size: int, generator: torch.Generator | None, short_side: ShortSide = None
) -> torch.Tensor:
    """Scale the short side to `short_side` (default `size`), then crop size x size.

    The crop is random with a generator, else centred. A short side larger than the crop trains
    on parts of larger images: the scale of content and strokes of bigger training images at the
    cost per step of small crops. A [low, high] range draws the short side per crop: a net that
    will run on photos of many sizes (a distillation student) sees each scale it will meet.
    """
    short_side = max(size, draw_short_side(short_side, generator) or size)
    scale = short_side / min(image.size)
    width, height = max(short_side, round(image.width * scale)), max(short_side, round(image.height * scale))
    image = image.resize((width, height), Image.Resampling.BILINEAR, reducing_gap=2.0)
    if generator is None:
        left, top = (width - size) // 2, (height - size) // 2
    else:
        left = int(torch.randint(0, width - size + 1, (1,), generator=generator))
        top = int(torch.randint(0, height - size + 1, (1,), generator=generator))
    return pil_to_tensor(image.crop((left, top, left + size, top + size)))


class PhotoStream(Dataset):
    """Endless, deterministic stream of training crops, indexed by sample position.

    Unreadable files (truncated, empty, not images) are skipped: the sample falls through to
    the next file of the permutation, with one warning per file and a running count. So do flat
    crops (see `min_std`), which would blow up the instance-norm gradients.
    """

    min_std = 0.02  # crops whose every channel varies less than this ([0, 1] pixels) are skipped

    def __init__(self, files: Sequence[Path], image_size: int, seed: int = 0, short_side: ShortSide = None) -> None:
        self.files = list(files)
        self.flat_crops = 0
        self.image_size = image_size
        self.short_side = short_side
        self.seed = seed
        self.skipped: set[Path] = set()
        self._epoch = -1
        self._perm: list[int] = []

    def __len__(self) -> int:
        return len(self.files)

    def _permutation(self, epoch: int) -> list[int]:
        if epoch != self._epoch:
            generator = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
            self._perm = torch.randperm(len(self.files), generator=generator).tolist()
            self._epoch = epoch
        return self._perm

    def __getitem__(self, position: int) -> torch.Tensor:
        epoch, offset = divmod(position, len(self.files))
        perm = self._permutation(epoch)
        generator = torch.Generator().manual_seed(self.seed * 7_919 + position)
        for attempt in range(len(self.files)):
            path = self.files[perm[(offset + attempt) % len(self.files)]]
            if path in self.skipped:
                continue
            try:
                crop = resize_crop(load_rgb(path), self.image_size, generator, self.short_side)
            except ImageReadError as error:
                self.skipped.add(path)
                log.warning("skipping unreadable training image (%d so far): %s", len(self.skipped), error)
                continue
            # A flat crop (white background, sky) has zero variance: every instance norm then
            # multiplies the gradient by 1/sqrt(eps) ~ 316, and through the net's 15 norms that
            # overflowed to inf (seen at step 1976 on a white product photo). Take the next file.
            if float(crop.std(dim=(1, 2)).max()) >= self.min_std:
                return crop
            self.flat_crops += 1
        raise RuntimeError(f"none of the {len(self.files)} training images gives a usable (readable, non-flat) crop")


class StreamSampler(Sampler[int]):
    """This rank's share of the run's stream positions [0, stop), iterated from `start` on.

    Its length is the whole run's share, not what is left of it: Lightning restores its count of
    the epoch's batches on resume and ends the epoch when that count reaches the loader's length.
    A length of only the rest ended a resumed epoch early and replayed its first batches.
    """

    def __init__(self, start: int, stop: int, rank: int = 0, world_size: int = 1) -> None:
        self.start, self.stop, self.rank, self.world_size = start, stop, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.start + self.rank, self.stop, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.stop, self.world_size))


class FixedImages(Dataset):
    """Centre crops of a fixed list of files: validation and the sample grid logged to TensorBoard."""

    def __init__(self, files: Sequence[Path], image_size: int, short_side: ShortSide = None) -> None:
        self.files, self.image_size, self.short_side = [], image_size, short_side
        for path in files:
            try:
                load_rgb(path)
                self.files.append(path)
            except ImageReadError as error:
                log.warning("skipping unreadable validation image: %s", error)

    def __len__(self) -> int:
        return len(self.files)

    def __getitem__(self, index: int) -> torch.Tensor:
        return resize_crop(load_rgb(self.files[index]), self.image_size, None, self.short_side)
