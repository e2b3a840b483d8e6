"""Style images for arbitrary style transfer: a second stream beside the photos, and the pairing.

The style stream is a `PhotoStream` (same deterministic positions, same skipping of unreadable
and flat images) over the style files, plus a horizontal flip drawn from the sample position.
A training sample p is (photo stream[p], style stream[p]): both are pure functions of (seed, p),
so a resumed run sees exactly the pairs the uninterrupted one would have.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path

import torch
from torch.utils.data import Dataset

from fst.data.dataset import FixedImages, PhotoStream, list_images


class FlippedStream(Dataset):
    """A stream whose sample p is flipped left-right with probability 1/2, decided by p alone."""

    def __init__(self, stream: PhotoStream, seed: int = 0) -> None:
        self.stream, self.seed = stream, seed

    def __len__(self) -> int:
        return len(self.stream)

    def __getitem__(self, position: int) -> torch.Tensor:
        crop = self.stream[position]
        generator = torch.Generator().manual_seed(self.seed * 15_485_863 + position)
        # A mirrored painting is still the same style; an upside-down one is not (gravity, skies).
        return crop.flip(-1) if torch.rand((), generator=generator) < 0.5 else crop


class PairedStream(Dataset):
    """Sample p = (content[p], style[p]): two endless streams read at the same position."""

    def __init__(self, content: Dataset, style: Dataset) -> None:
        self.content, self.style = content, style

    def __len__(self) -> int:
        return len(self.content)

    def __getitem__(self, position: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.content[position], self.style[position]


class PairedImages(Dataset):
    """Fixed validation pairs: style i with content i mod (number of contents), every style once."""

    def __init__(self, content: FixedImages, style: FixedImages) -> None:
        if not len(content) or not len(style):
            raise ValueError("validation needs at least one readable content and one readable style image")
        self.content, self.style = content, style

    def __len__(self) -> int:
        return len(self.style)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, torch.Tensor]:
        return self.content[index % len(self.content)], self.style[index]


def split_styles(
    folders: Iterable[str | Path], validation: Sequence[str], excluded: Sequence[str] = ()
) -> tuple[list[Path], list[Path]]:
    """(training, validation) style files of `folders`, by file name.

    Validation files are named explicitly (an artist split cannot be a hash split), and every
    name must exist so that a renamed file cannot silently move into training. `excluded` names
    are in neither (pictures kept for evaluation elsewhere).
    """
    files = [path for folder in folders for path in list_images(folder)]
    names = {path.name for path in files}
    missing = sorted(set(validation) - names) + sorted(set(excluded) - names)
    if missing:
        raise FileNotFoundError(f"style files named in the split are not in the style folders: {', '.join(missing)}")
    held = set(validation) | set(excluded)
    training = [path for path in files if path.name not in held]
    by_name = {path.name: path for path in files}
    return training, [by_name[name] for name in validation]
