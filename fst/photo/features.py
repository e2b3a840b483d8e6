"""The network's low-resolution target: VGG-19 relu4_1 features whitened and coloured (WCT) with the
reference's, region by region when masks are given, decoded by the shipped AdaIN decoder.

Its colours are semantic (sky takes the reference's sky colour because their features match), but
the decoded image is soft and painterly: only its colours are kept, by the local affine model.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from fst.models.adain import BORDER, ENCODER_LAYER, AdaINModel
from fst.models.wct import feature_covariance, symmetric_power


def _masks_at(masks: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """(R, 1, H, W) binary masks at a feature map's size: a cell is in the region it mostly covers."""
    return (F.interpolate(masks, size=size, mode="area") > 0.5).float()


def _wct(content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
    """WCT of (C, P) content positions to (C, Q) style positions; (C, P) float32."""
    own = feature_covariance(content[None, :, :, None])
    ref = feature_covariance(style[None, :, :, None])
    transform = (symmetric_power(ref.covariance, 0.5) @ symmetric_power(own.covariance, -0.5)).float()[0]
    return transform @ (content - own.mean.float()[0, :, None]) + ref.mean.float()[0, :, None]


def decoded_target(
    model: AdaINModel,
    photo: torch.Tensor,
    reference: torch.Tensor,
    photo_regions: torch.Tensor | None = None,
    reference_regions: torch.Tensor | None = None,
) -> torch.Tensor:
    """(1, 3, H, W) photo in [0, 1] with the reference's relu4_1 covariance, decoded; same size."""
    height, width = photo.shape[-2:]
    features = model.encode(model.pad(photo, BORDER))[ENCODER_LAYER][0]
    ref_features = model.encode(model.pad(reference))[ENCODER_LAYER][0]
    channels = features.shape[0]
    flat, ref_flat = features.flatten(1).float(), ref_features.flatten(1).float()
    result = _wct(flat, ref_flat)
    if photo_regions is not None and reference_regions is not None:
        # Region masks on the padded photo's grid (reflected border included), then per region.
        padded_masks = model.pad(photo_regions, BORDER)
        inside_all = _masks_at(padded_masks, features.shape[-2:]).flatten(1) > 0.5
        ref_inside_all = _masks_at(model.pad(reference_regions), ref_features.shape[-2:]).flatten(1) > 0.5
        for inside, ref_inside in zip(inside_all, ref_inside_all, strict=True):
            if inside.sum() >= 4 and ref_inside.sum() >= 4:
                result[:, inside] = _wct(flat[:, inside], ref_flat[:, ref_inside])
    target = result.reshape(1, channels, *features.shape[-2:])
    decoded = model.decode(target.to(features.dtype))
    return decoded[..., BORDER : BORDER + height, BORDER : BORDER + width]
