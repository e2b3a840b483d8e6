"""The local affine colour model: box means, a global map recovered, strips equal to one pass."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fst.io.images import pil_to_tensor
from fst.photo import affine
from tests.conftest import random_photo


def test_box_mean_is_the_mean_over_clipped_windows() -> None:
    x = torch.rand(1, 4, 23, 17, dtype=torch.float64)
    expected = F.avg_pool2d(x, 7, stride=1, padding=3, count_include_pad=False)
    assert torch.allclose(affine.box_mean(x, 3), expected)


def test_a_global_affine_map_is_recovered_at_full_resolution() -> None:
    photo = pil_to_tensor(random_photo(200, 150, seed=3))[None]
    matrix = torch.tensor([[0.6, 0.3, 0.0], [0.1, 0.5, 0.2], [0.0, 0.2, 0.9]])
    target = torch.einsum("ci,nihw->nchw", matrix, photo) + torch.tensor([0.05, 0.1, -0.02]).view(1, 3, 1, 1)
    small = F.interpolate(photo, size=(75, 100), mode="area")
    small_target = torch.einsum("ci,nihw->nchw", matrix, small) + torch.tensor([0.05, 0.1, -0.02]).view(1, 3, 1, 1)
    coefficients = affine.fit(small, small_target, radius=4, eps=1e-4)
    assert coefficients.shape == (1, affine.COEFFICIENTS, 75, 100)
    result = affine.apply(coefficients, photo)
    assert (result - target).abs().max() < 0.01


def test_flat_windows_keep_the_global_map_not_the_target_mean() -> None:
    # A texture too faint for any window to fit: the ridge prior (the global map) must keep it.
    torch.manual_seed(0)
    photo = 0.5 + 0.01 * torch.randn(1, 3, 64, 64)
    target = 1.0 - photo  # an inverted negative: texture kept, contrast reversed
    result = affine.apply(affine.fit(photo, target, radius=4, eps=1e-2), photo)
    correlation = torch.corrcoef(torch.stack([result.flatten(), target.flatten()]))[0, 1]
    assert correlation > 0.95


def test_strips_give_the_one_pass_result_without_seams() -> None:
    photo = pil_to_tensor(random_photo(97, 61, seed=4))[None]
    small = F.interpolate(photo, size=(20, 32), mode="area")
    coefficients = affine.fit(small, small.flip(1) * 0.8 + 0.1, radius=3, eps=1e-3)
    photo_uint8 = photo[0].mul(255).round().to(torch.uint8)
    whole = affine.apply(coefficients, photo_uint8[None].float() / 255).clamp(0, 1).mul(255).round()
    strips = affine.apply_in_strips(coefficients, photo_uint8, rows=7)
    assert strips.dtype == torch.uint8 and strips.shape == photo_uint8.shape
    assert (strips.float() - whole[0]).abs().max() <= 1


def test_the_fit_is_linear_in_its_target() -> None:
    # PhotoLook searches the lightness share by mixing two fits: that is the fit of the mixed target
    # where the fit is linear in it (the means, the box filters and the prior until its gain is
    # clipped; a mix of two clipped priors is clipped too, the spectral norm being convex).
    small = pil_to_tensor(random_photo(48, 40, seed=5))[None]
    first, second = small.flip(1) * 0.8 + 0.1, small.roll(1, 1) ** 2
    options = {"radius": 3, "eps": 1e-2, "max_gain": float("inf")}
    mixed = affine.fit(small, torch.lerp(first, second, 0.3), **options)
    parts = torch.lerp(affine.fit(small, first, **options), affine.fit(small, second, **options), 0.3)
    assert torch.allclose(mixed, parts, atol=1e-4)


def test_flat_windows_do_not_amplify_faint_blocks() -> None:
    # A flat sky with faint blocks (JPEG's 8x8 at full resolution are a few pixels at the fit's),
    # and a target that stretches the photo's colours fourfold (a grey sky matched to a contrasty
    # night): the blocks came out 4x stronger. Only the offsets, window means, may still follow.
    blocks = torch.rand(1, 1, 64, 64, generator=torch.Generator().manual_seed(0)) * 0.01
    photo = 0.6 + F.interpolate(blocks, scale_factor=2, mode="nearest").expand(1, 3, 128, 128)
    target = (photo - 0.6) * 4 + 0.3
    result = affine.apply(affine.fit(photo, target, radius=4, eps=1e-2), photo)
    assert result.std() < 1.5 * photo.std()  # 4.0x without the gain limit
