"""Semantic (masked) style term: Gram matrices per matching region of content and style.

Region r of the output is pushed towards the Gram matrix of region r of the style only
(Luan et al. 2017, following Champandard's neural doodles). Masks arrive at image resolution and
are area-averaged to each layer's resolution here, so a region boundary becomes a soft weight.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn


def masks_at(masks: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Region masks (R, 1, H, W) area-averaged to a layer's (h, w): the fraction of each cell in r."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    return F.adaptive_avg_pool2d(masks.float(), tuple(size))


def _gram(features: torch.Tensor, mask: torch.Tensor | None) -> torch.Tensor:
    # Imported here: perceptual.py imports this module, and gram_matrix must stay the one implementation.
    from fst.losses.perceptual import gram_matrix

    return gram_matrix(features, mask)


@torch.no_grad()
def region_grams(
    vgg: nn.Module,
    styles: Sequence[torch.Tensor],
    masks: Sequence[torch.Tensor],
    blend: Sequence[float],
    layers: list[str],
) -> dict[str, torch.Tensor]:
    """Blended per-region Gram targets {layer: (R, C, C)} of style images (1, 3, H, W).

    Args:
        masks: one (R, 1, H, W) stack per style image; resized to its image if they differ.
    """
    counts = {m.shape[0] for m in masks}
    if len(counts) != 1:
        raise ValueError(f"every style needs the same number of regions, got {sorted(counts)}")
    total = sum(blend)
    targets: dict[str, torch.Tensor] = {}
    for style, style_masks, weight in zip(styles, masks, blend, strict=True):
        style_masks = masks_at(style_masks.to(style.device), style.shape[-2:])
        features = vgg(style, layers)
        for name, feature in features.items():
            layer_masks = masks_at(style_masks, feature.shape[-2:])
            grams = torch.cat([_gram(feature[:1], m[None]) for m in layer_masks]) * (weight / total)
            targets[name] = targets[name] + grams if name in targets else grams
    return targets


def region_style_loss(
    features: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    content_masks: torch.Tensor | None,
    layer_weights: Mapping[str, float],
) -> torch.Tensor:
    """Sum over layers and regions of area fraction x MSE(masked Gram, region target).

    Weighting each region by its share of the image makes one all-ones region give exactly the
    plain style term, and keeps a sliver of sky from counting as much as the whole building.
    """
    if content_masks is None:
        raise RuntimeError("semantic style targets are set: call set_content_masks() too")
    first = next(iter(features.values()))
    regions = next(iter(targets.values())).shape[0]
    if content_masks.shape[0] != regions:
        raise ValueError(f"content has {content_masks.shape[0]} regions, style targets have {regions}")
    loss = first.new_zeros((), dtype=torch.float32)
    for name, weight in layer_weights.items():
        feature = features[name]
        layer_masks = masks_at(content_masks, feature.shape[-2:])
        for region, mask in enumerate(layer_masks):
            share = mask.mean()
            if float(share) == 0.0:
                continue  # region vanished at this resolution: nothing to match
            gram = _gram(feature, mask[None])
            target = targets[name][region : region + 1].expand_as(gram)
            loss = loss + weight * share * F.mse_loss(gram, target)
    return loss
