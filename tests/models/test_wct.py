"""Whitening and colouring (WCT) against hand computations: covariance matched, AdaIN at share 0."""

from __future__ import annotations

import pytest
import torch

from fst.models.adain import adaptive_instance_norm, blend_stats, channel_stats
from fst.models.wct import (
    covariance_from_sums,
    covariance_transfer,
    feature_covariance,
    style_colouring,
    symmetric_power,
)


def correlated(seed: int, channels: int = 6, size: tuple[int, int] = (12, 10)) -> torch.Tensor:
    """(1, C, H, W) features with channels mixed, so their covariance is far from diagonal."""
    generator = torch.Generator().manual_seed(seed)
    mixing = torch.randn(channels, channels, generator=generator)
    noise = torch.randn(channels, size[0] * size[1], generator=generator)
    offset = torch.randn(channels, 1, generator=generator) * 3
    return (mixing @ noise + offset).view(1, channels, *size)


def hand_covariance(features: torch.Tensor) -> torch.Tensor:
    flat = features[0].double().flatten(1)
    centred = flat - flat.mean(1, keepdim=True)
    return centred @ centred.T / flat.shape[1]


def test_wct_gives_the_content_the_style_covariance_and_means() -> None:
    content, style_features = correlated(0), correlated(1, size=(9, 14))
    style = style_colouring(style_features)
    torch.testing.assert_close(style.colour[0] @ style.colour[0], hand_covariance(style_features), atol=1e-4, rtol=1e-5)
    out = covariance_transfer(content, style, share=1.0)
    torch.testing.assert_close(hand_covariance(out), hand_covariance(style_features), atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(out[0].double().mean((1, 2)), style_features[0].double().mean((1, 2)), atol=1e-5, rtol=0)
    # AdaIN matches only the diagonal: its off-diagonal covariance stays the content's, not the style's.
    adain = adaptive_instance_norm(content, channel_stats(style_features))
    assert (hand_covariance(adain) - hand_covariance(style_features)).abs().max() > 0.5


def test_share_zero_is_adain_and_alpha_zero_the_content() -> None:
    content, style_features = correlated(2), correlated(3)
    style = style_colouring(style_features)
    adain = adaptive_instance_norm(content, channel_stats(style_features))
    torch.testing.assert_close(covariance_transfer(content, style, share=0.0), adain, atol=1e-4, rtol=1e-4)
    half = covariance_transfer(content, style, share=0.5)
    expected = 0.5 * adain + 0.5 * covariance_transfer(content, style, share=1.0)
    torch.testing.assert_close(half, expected, atol=1e-4, rtol=1e-4)
    torch.testing.assert_close(covariance_transfer(content, style, share=0.5, alpha=0.0), content)


def test_tile_sums_pool_to_the_whole_covariance_and_tiles_use_it() -> None:
    content, style = correlated(4, size=(12, 10)), style_colouring(correlated(5))
    top, bottom = content[..., :5, :], content[..., 5:, :]
    sums = [
        (t.double().flatten(2).sum(2), t.double().flatten(2) @ t.double().flatten(2).transpose(1, 2))
        for t in (top, bottom)
    ]
    pooled = covariance_from_sums(sums[0][0] + sums[1][0], sums[0][1] + sums[1][1], 120)
    whole = feature_covariance(content)
    torch.testing.assert_close(pooled.covariance, whole.covariance, atol=1e-4, rtol=1e-5)
    tiled = torch.cat([covariance_transfer(t, style, 0.7, content_stats=pooled) for t in (top, bottom)], dim=2)
    # Not bit-exact: the whole image's covariance is float32 on centred features, the pooled one
    # float64 sums; whitening amplifies that 1e-6 difference along this test's smallest eigenvalue.
    torch.testing.assert_close(tiled, covariance_transfer(content, style, 0.7), atol=3e-3, rtol=0)
    own = torch.cat([covariance_transfer(t, style, 0.7) for t in (top, bottom)], dim=2)
    assert (own - tiled).abs().max() > 0.1  # each tile's own covariance would differ


def test_blended_colourings_mix_the_outputs() -> None:
    content = correlated(6)
    first, second = style_colouring(correlated(7)), style_colouring(correlated(8))
    mixed = covariance_transfer(content, blend_stats([first, second], [1.4, 0.6]), share=1.0)
    expected = 0.7 * covariance_transfer(content, first) + 0.3 * covariance_transfer(content, second)
    torch.testing.assert_close(mixed, expected, atol=1e-4, rtol=1e-4)
    with pytest.raises(ValueError, match="2 styles but 1"):
        blend_stats([first, second], [1.0])


def test_near_singular_covariance_is_floored_not_blown_up() -> None:
    flat = correlated(9)
    flat[:, 3] = flat[:, 2] * 2  # a channel that repeats another: the covariance is singular
    inverse_root = symmetric_power(hand_covariance(flat)[None], -0.5)
    assert torch.isfinite(inverse_root).all()
    out = covariance_transfer(flat, style_colouring(correlated(10)), share=1.0)
    assert torch.isfinite(out).all() and out.abs().max() < 1e3
