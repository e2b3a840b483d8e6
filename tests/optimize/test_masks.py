import logging
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fst.io.images import ImageReadError
from fst.optimize.masks import MaskError, dominant_colors, load_region_masks, match_regions


def two_region_mask(height: int = 40, width: int = 60, seed: int = 0) -> np.ndarray:
    """Black left, green right, an antialiased seam and +-6 grey levels of lossy-save noise."""
    mask = np.zeros((height, width, 3), dtype=np.float64)
    ramp = np.clip((np.arange(width) - width / 2) / 3 + 0.5, 0, 1)  # 3-pixel soft edge
    mask[..., 1] = 255 * ramp
    noise = np.random.default_rng(seed).integers(-6, 7, size=mask.shape)
    return np.clip(mask + noise, 0, 255).astype(np.uint8)


def test_edge_noise_does_not_create_regions() -> None:
    mask = two_region_mask()
    assert len(np.unique(mask.reshape(-1, 3), axis=0)) > 100  # thousands of colours, as in the data
    assert len(dominant_colors(mask)) == 2


def test_matching_regions_cover_every_pixel_once() -> None:
    regions = match_regions(two_region_mask(seed=1), two_region_mask(30, 50, seed=2))
    assert regions.content.shape == (2, 1, 40, 60)
    assert regions.style.shape == (2, 1, 30, 50)
    assert (regions.content.sum(0) == 1).all()
    assert (regions.style.sum(0) == 1).all()
    # the black (left) region of content is matched with the black (left) region of the style
    black = next(i for i, c in enumerate(regions.colors) if sum(c) < 100)
    assert regions.style[black, 0, :, :5].all() and not regions.style[black, 0, :, -5:].any()


def test_region_missing_from_style_falls_back_to_whole_style(caplog: pytest.LogCaptureFixture) -> None:
    content = two_region_mask()
    style = np.zeros((30, 50, 3), dtype=np.uint8)  # all black: no green region
    with caplog.at_level(logging.WARNING):
        regions = match_regions(content, style, content_name="in.png")
    green = next(i for i, c in enumerate(regions.colors) if c[1] > 200)
    assert regions.style[green].all()
    assert "not in the style mask" in caplog.text and "in.png" in caplog.text


def test_tiny_regions_are_dropped() -> None:
    mask = np.zeros((100, 100, 3), dtype=np.uint8)
    mask[:2, :2] = (255, 0, 0)  # 4 red pixels: 0.04 % of the image
    assert dominant_colors(mask, min_fraction=0.002) == [(0, 0, 0)]


def test_size_mismatch_is_one_line_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mask.png"
    Image.fromarray(two_region_mask(40, 40)).save(path)
    with pytest.raises(MaskError) as error:
        load_region_masks(path, path, (40, 60), (40, 40))
    assert "mask.png" in str(error.value) and "\n" not in str(error.value)


def test_off_by_one_row_and_downscaled_masks_are_resized(tmp_path: Path) -> None:
    path = tmp_path / "mask.png"
    Image.fromarray(two_region_mask(79, 120)).save(path)  # like in7.png: one row short
    regions = load_region_masks(path, path, (80, 120), (20, 30))
    assert regions.content.shape[-2:] == (80, 120) and regions.style.shape[-2:] == (20, 30)
    assert len(regions.colors) == 2  # found at full size: the small target adds no edge colours
    assert (regions.style.sum(0) == 1).all()


def test_missing_and_unreadable_masks_are_one_line_errors(tmp_path: Path) -> None:
    good = tmp_path / "good.png"
    Image.fromarray(two_region_mask()).save(good)
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    for bad in (tmp_path / "missing.png", broken):
        with pytest.raises(ImageReadError) as error:
            load_region_masks(bad, good, (40, 60), (40, 60))
        assert bad.name in str(error.value) and "\n" not in str(error.value)
