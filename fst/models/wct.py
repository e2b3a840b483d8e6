"""Whitening and colouring transform (WCT, Li et al. 2017) at relu4_1: AdaIN's full-covariance sibling.

AdaIN gives the content features the style's channel means and standard deviations; WCT gives
them the style's whole channel covariance (what a Gram-matrix style measure sees): the content
features are whitened (covariance -> identity) and coloured with the style's covariance. fst
decodes the result with the AdaIN decoder (no reconstruction-only decoder is trained); the
README has what that measured. The 512x512 matrices are float64 (covariance eigenvalues span many
decades); the products over every position are float32 on centred features.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from fst.models.adain import EPS, ChannelStats, adaptive_instance_norm

# Eigenvalues below this fraction of the largest are treated as this (a flat region's covariance
# is near singular; whitening it unclamped would blow noise up).
EIGEN_FLOOR = 1e-5


class StyleColouring(NamedTuple):
    """What WCT needs of a style: channel means (N, C) and the covariance's square root (N, C, C)."""

    mean: torch.Tensor
    colour: torch.Tensor

    def channel_stats(self) -> ChannelStats:
        """AdaIN's view of the same style: the covariance's diagonal is each channel's variance."""
        variance = self.colour.double().square().sum(-1)  # diag(colour @ colour), colour symmetric
        return ChannelStats(self.mean.float(), (variance + EPS).sqrt().float())


class FeatureCovariance(NamedTuple):
    """Channel means (N, C) and population covariance (N, C, C) of features, float64."""

    mean: torch.Tensor
    covariance: torch.Tensor

    def channel_stats(self) -> ChannelStats:
        variance = self.covariance.diagonal(dim1=-2, dim2=-1).clamp_min(0)
        return ChannelStats(self.mean.float(), (variance + EPS).sqrt().float())


def feature_covariance(features: torch.Tensor) -> FeatureCovariance:
    """Means and covariance over H and W of (N, C, H, W) features (population, as `channel_stats`)."""
    flat = features.detach().float().flatten(2)
    mean = flat.mean(2, dtype=torch.float64)
    # Centred first, so float32 products lose nothing to cancellation (float64 doubled the cost).
    centred = flat - mean.float()[:, :, None]
    return FeatureCovariance(mean, (centred @ centred.transpose(1, 2)).double() / flat.shape[2])


def covariance_from_sums(total: torch.Tensor, outer: torch.Tensor, count: int) -> FeatureCovariance:
    """From the sums of features (N, C) and of their outer products (N, C, C) over `count` positions:
    tiles of one image pool these to exactly the whole image's covariance."""
    mean = total / count
    return FeatureCovariance(mean, outer / count - mean[:, :, None] * mean[:, None, :])


def symmetric_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    """`matrix ** power` of symmetric positive semi-definite (N, C, C), small eigenvalues floored."""
    values, vectors = torch.linalg.eigh(matrix)
    floor = values.amax(-1, keepdim=True).clamp_min(1e-30) * EIGEN_FLOOR
    return (vectors * values.clamp_min(floor).pow(power)[:, None, :]) @ vectors.transpose(1, 2)


def style_colouring(features: torch.Tensor) -> StyleColouring:
    """The style's WCT target from its (1, C, H, W) encoder features."""
    stats = feature_covariance(features)
    return StyleColouring(stats.mean, symmetric_power(stats.covariance, 0.5))


def whiten_colour(content: torch.Tensor, style: StyleColouring, own: FeatureCovariance) -> torch.Tensor:
    """WCT of (N, C, H, W) content features whose whole-image covariance is `own`; float32."""
    # One linear map per image: colour @ whiten (float64), applied in float32 to the centred features.
    transform = (style.colour.double() @ symmetric_power(own.covariance, -0.5)).float()
    centred = content.float().flatten(2) - own.mean.float()[:, :, None]
    return (transform @ centred + style.mean.float()[:, :, None]).view_as(content)


def covariance_transfer(
    content: torch.Tensor,
    style: StyleColouring,
    share: float | torch.Tensor = 1.0,
    alpha: float | torch.Tensor = 1.0,
    content_stats: FeatureCovariance | None = None,
) -> torch.Tensor:
    """AdaIN and WCT targets mixed: `share` 0 is AdaIN, 1 is WCT; float32 (N, C, H, W) out.

    Both targets have the style's channel means and standard deviations, so a mix does too; WCT
    adds the channel correlations. Measured (README): half of each kept most of WCT's style at
    far less content change than WCT alone.

    Args:
        content: (N, C, H, W) encoder features.
        style: the style's means and colouring matrix, (N or 1, ...).
        share, alpha: numbers or tensors broadcast over the features (a tensor stays an input of a
            compiled graph); alpha is the content-style trade-off (0: the content features back).
        content_stats: the whole image's covariance when `content` is one tile of it.
    """
    with torch.autocast(device_type=content.device.type, enabled=False):
        x = content.float()
        own = content_stats or feature_covariance(x)
        adain = adaptive_instance_norm(x, style.channel_stats(), content_stats=own.channel_stats())
        target = torch.lerp(adain, whiten_colour(x, style, own), share)
        return target if isinstance(alpha, float) and alpha == 1.0 else torch.lerp(x, target, alpha)
