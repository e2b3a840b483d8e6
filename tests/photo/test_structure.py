"""The structure measure and the lightness share chosen per photo to keep it."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from fst.io.images import pil_to_tensor
from fst.photo import structure
from fst.photo.transfer import PhotoLook, shrink
from tests.conftest import random_photo


def test_ssim_is_one_for_the_same_image_and_falls_with_darkening() -> None:
    grey = structure.luma(pil_to_tensor(random_photo(64, 48, seed=1))[None])
    assert structure.ssim(grey, grey) == pytest.approx(1.0)
    assert structure.ssim(grey * 0.5, grey) < structure.ssim(grey * 0.9, grey) < 1.0


@pytest.mark.parametrize(("threshold", "expected"), [(0.37, 0.37), (1.5, 1.0), (-0.1, 0.0)])
def test_largest_share_finds_where_a_falling_measure_crosses_the_floor(threshold: float, expected: float) -> None:
    # keeps(share) = 1 - share + threshold crosses 1.0 at share = threshold.
    share = structure.largest_share(lambda s: 1.0 - s + threshold, floor=1.0, steps=10)
    assert share == pytest.approx(expected, abs=1 / 2**10)
    assert share <= max(0.0, min(1.0, threshold))  # never above the floor's share


def textured(seed: int, level: float) -> Image.Image:
    rng = np.random.default_rng(seed)
    base = np.asarray(random_photo(96, 64, seed), dtype=np.float64) * 0.6 + level
    return Image.fromarray(np.clip(base + rng.normal(0, 4, base.shape), 0, 255).astype(np.uint8))


def kept(look: PhotoLook, photo: Image.Image) -> float:
    out = look(photo)[None].float() / 255
    return structure.ssim(structure.luma(out), structure.luma(shrink(photo, 512)))


def test_auto_takes_the_most_lightness_that_keeps_the_floor() -> None:
    photo = textured(1, level=90)
    night = PhotoLook(shrink(textured(2, level=-60), 512))  # a much darker reference
    whole, auto = PhotoLook(night.reference, luminance=1.0), PhotoLook(night.reference, structure_floor=0.8)
    assert kept(whole, photo) < 0.8  # all of the night's lightness: not the same photograph
    assert kept(auto, photo) >= 0.79  # auto stops at the floor (the output is rounded to 8 bits)
    darker = PhotoLook(night.reference, luminance=0.05)
    assert auto(photo).float().mean() < darker(photo).float().mean()  # and takes more than a token share


def test_auto_takes_all_of_a_like_lit_reference() -> None:
    photo, reference = textured(1, level=40), shrink(textured(3, level=45), 512)
    assert torch.equal(PhotoLook(reference)(photo), PhotoLook(reference, luminance=1.0)(photo))
