"""Colour-coded segmentation images -> matching binary region masks for content and style.

The format is Luan et al.'s (`photo_style/segmentation/*.png`): each region painted in a flat
colour (black, white, green, blue, ...). Those PNGs were drawn with antialiased brushes and saved
through lossy tools, so a "two-colour" mask holds thousands of colours along its edges. We keep
only the dominant colours (each covering at least `min_fraction` of the image, near-duplicates
merged) and snap every pixel to the nearest of them: edge noise can then never become a region.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fst.io.images import read_image

log = logging.getLogger(__name__)


class MaskError(ValueError):
    """A segmentation image that cannot be used; the message is one line naming the file."""


@dataclass
class RegionMasks:
    """Matching region masks: region r of `content` is styled from region r of `style`."""

    colors: list[tuple[int, int, int]]
    content: torch.Tensor  # (R, 1, H, W) in {0, 1}
    style: torch.Tensor  # (R, 1, Hs, Ws) in {0, 1}


def read_segmentation(path: str | Path, size: tuple[int, int]) -> np.ndarray:
    """Decode a colour-coded mask (H, W, 3 uint8) at its own resolution, checked against its photo.

    Args:
        size: (H, W) the photo will have; the mask must have its aspect ratio (2 % tolerance:
            in7.png is 700x393 for a 700x394 photo). Another shape belongs to another photo.
    """
    rgb = read_image(path).rgb
    height, width = size
    expected_height = rgb.height * width / rgb.width  # the mask's aspect at the photo's width
    if abs(expected_height - height) > max(1.0, 0.02 * height):  # 1 px: rounding of small images
        raise MaskError(f"{path}: mask is {rgb.width}x{rgb.height}, its image {width}x{height} (another aspect ratio)")
    return np.asarray(rgb, dtype=np.uint8)


def dominant_colors(
    pixels: np.ndarray, min_fraction: float = 0.002, merge_distance: float = 60.0
) -> list[tuple[int, int, int]]:
    """The region colours of a mask (H, W, 3): frequent colours, near-duplicates merged.

    Colours covering at least `min_fraction` of the pixels are visited from most to least frequent;
    one within `merge_distance` (RGB Euclidean) of an accepted colour is the same region.
    """
    # One int per colour (r, g, b packed in 24 bits, ordered as the rows): np.unique over rows
    # sorted 3-column records, 20x slower on a 700 px mask.
    packed = pixels.reshape(-1, 3).astype(np.int32) @ np.array([1 << 16, 1 << 8, 1], dtype=np.int32)
    codes, counts = np.unique(packed, return_counts=True)
    colors = np.stack([codes >> 16, (codes >> 8) & 255, codes & 255], 1)
    order = np.argsort(-counts)
    centres: list[np.ndarray] = []
    for color, count in zip(colors[order].astype(np.float64), counts[order], strict=True):
        if count < min_fraction * pixels.shape[0] * pixels.shape[1]:
            break  # sorted by frequency: everything after is edge noise, snapped to a centre later
        if all(np.linalg.norm(color - c) > merge_distance for c in centres):
            centres.append(color)
    return [tuple(int(v) for v in c) for c in centres]


def snap(pixels: np.ndarray, palette: list[tuple[int, int, int]]) -> np.ndarray:
    """Label map (H, W) of the nearest palette colour of every pixel."""
    flat = pixels.reshape(-1, 1, 3).astype(np.int32)
    distances = ((flat - np.asarray(palette, dtype=np.int32)[None]) ** 2).sum(-1)
    return distances.argmin(1).reshape(pixels.shape[:2])


def _region(labels: np.ndarray, index: int, size: tuple[int, int] | None) -> torch.Tensor:
    """Binary mask (1, 1, H, W) of one label, resized with NEAREST (no blending of labels)."""
    mask = Image.fromarray((labels == index).astype(np.uint8) * 255)
    if size is not None and mask.size != (size[1], size[0]):
        mask = mask.resize((size[1], size[0]), Image.Resampling.NEAREST)
    return torch.from_numpy(np.asarray(mask) > 127).float()[None, None]


def match_regions(
    content_mask: np.ndarray,
    style_mask: np.ndarray,
    min_fraction: float = 0.002,
    merge_distance: float = 60.0,
    content_name: str = "content mask",
    content_size: tuple[int, int] | None = None,
    style_size: tuple[int, int] | None = None,
) -> RegionMasks:
    """Region masks for content and style from their colour-coded images (H, W, 3 uint8).

    Colours are found and snapped at the masks' own resolution, where `min_fraction` means what
    it says, and only the label maps are resized to `content_size` / `style_size` (H, W).
    A content colour absent from the style (no style colour within `merge_distance`) is styled
    from the whole style image, with a warning, rather than left unstyled or crashing.
    """
    content_palette = dominant_colors(content_mask, min_fraction, merge_distance)
    style_palette = dominant_colors(style_mask, min_fraction, merge_distance)
    content_labels = snap(content_mask, content_palette)
    style_labels = snap(style_mask, style_palette)
    content_masks, style_masks = [], []
    for index, color in enumerate(content_palette):
        distances = [np.linalg.norm(np.subtract(color, c, dtype=np.float64)) for c in style_palette]
        content_masks.append(_region(content_labels, index, content_size))
        if distances and min(distances) <= merge_distance:
            style_masks.append(_region(style_labels, int(np.argmin(distances)), style_size))
        else:
            log.warning("%s: region colour %s is not in the style mask; using the whole style", content_name, color)
            style_masks.append(torch.ones(1, 1, *(style_size or style_mask.shape[:2])))
    return RegionMasks(colors=content_palette, content=torch.cat(content_masks), style=torch.cat(style_masks))


def load_region_masks(
    content_path: str | Path,
    style_path: str | Path,
    content_size: tuple[int, int],
    style_size: tuple[int, int],
    min_fraction: float = 0.002,
    merge_distance: float = 60.0,
) -> RegionMasks:
    """Read both segmentation files at their photos' sizes (H, W) and match their regions."""
    content = read_segmentation(content_path, content_size)
    style = read_segmentation(style_path, style_size)
    return match_regions(
        content, style, min_fraction, merge_distance, str(content_path), tuple(content_size), tuple(style_size)
    )
