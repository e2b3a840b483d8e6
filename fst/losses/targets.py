"""Style targets: what an image's style must match, built once and passed to `PerceptualLoss`.

- `GramTarget`: Gram matrices of one style image, or a weighted blend of several.
- `RegionGramTarget`: semantic style transfer (Luan et al. 2017, after Champandard's neural
  doodles): region r of the output is pushed towards the Gram matrix of region r of the style.

Both are built from VGG features (the loss computes those) and are immutable: a new style is a
new target, never a mutation of the loss.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import torch
import torch.nn.functional as F

from fst.losses.terms import gram_loss, gram_matrix

Features = Mapping[str, torch.Tensor]


class StyleTarget(Protocol):
    def loss(
        self, features: Features, layer_weights: Mapping[str, float], reference: Features | None = None
    ) -> torch.Tensor:
        """The unweighted style term of `features` (the loss multiplies by its style weight).

        `reference`: the content images' features, to measure each error relative to theirs.
        """
        ...

    def to(self, device: torch.device | str) -> StyleTarget: ...


def normalised(blend: Sequence[float] | None, count: int) -> list[float]:
    """Blend weights summing to 1 (equal when None)."""
    weights = [1.0] * count if blend is None else [float(w) for w in blend]
    if len(weights) != count:
        raise ValueError(f"{count} style images but {len(weights)} blend weights")
    total = sum(weights)
    return [w / total for w in weights]


@dataclass(frozen=True)
class GramTarget:
    """Target Gram matrices {layer: (1, C, C)}: one style image, or a weighted blend of several.

    A multi-style batch has one target per entry {layer: (N, C, C)}, and may weigh each entry's
    error per layer (`entry_weights` {layer: (N,)}): some paintings need a stronger pull than
    others, or a stronger pull at one depth.
    """

    grams: dict[str, torch.Tensor]
    entry_weights: dict[str, torch.Tensor] | None = None

    @classmethod
    @torch.no_grad()
    def from_features(cls, styles: Sequence[Features], blend: Sequence[float] | None = None) -> GramTarget:
        """From the features of each style image; a batch of one image's crops is averaged."""
        grams: dict[str, torch.Tensor] = {}
        for features, weight in zip(styles, normalised(blend, len(styles)), strict=True):
            for name, feature in features.items():
                gram = gram_matrix(feature).mean(dim=0, keepdim=True) * weight
                grams[name] = grams[name] + gram if name in grams else gram
        return cls(grams)

    def loss(
        self, features: Features, layer_weights: Mapping[str, float], reference: Features | None = None
    ) -> torch.Tensor:
        return gram_loss(features, self.grams, layer_weights, reference, self.entry_weights)

    def to(self, device: torch.device | str) -> GramTarget:
        weights = None if self.entry_weights is None else {k: w.to(device) for k, w in self.entry_weights.items()}
        return GramTarget({name: gram.to(device) for name, gram in self.grams.items()}, weights)


def masks_at(masks: torch.Tensor, size: tuple[int, int] | torch.Size) -> torch.Tensor:
    """Region masks (R, 1, H, W) area-averaged to a layer's (h, w): the fraction of each cell in r."""
    if tuple(masks.shape[-2:]) == tuple(size):
        return masks
    return F.adaptive_avg_pool2d(masks.float(), tuple(size))


@dataclass(frozen=True)
class RegionGramTarget:
    """Per-region Gram targets {layer: (R, C, C)} and the regions (R, 1, H, W) of the output image.

    Masks arrive at image resolution and are area-averaged to each layer's resolution, so a
    region boundary becomes a soft weight.
    """

    grams: dict[str, torch.Tensor]
    content_masks: torch.Tensor

    @classmethod
    @torch.no_grad()
    def from_features(
        cls,
        styles: Sequence[Features],
        style_masks: Sequence[torch.Tensor],
        content_masks: torch.Tensor,
        blend: Sequence[float] | None = None,
    ) -> RegionGramTarget:
        """Blended per-region Grams of style images; region r matches region r of `content_masks`.

        Args:
            style_masks: one (R, 1, H, W) stack per style image, at any resolution (area-averaged
                to each layer's).
        """
        if len(style_masks) != len(styles):
            raise ValueError(f"{len(styles)} style images but {len(style_masks)} mask stacks")
        counts = {m.shape[0] for m in style_masks} | {content_masks.shape[0]}
        if len(counts) != 1:
            raise ValueError(f"content and styles need the same number of regions, got {sorted(counts)}")
        grams: dict[str, torch.Tensor] = {}
        for features, masks, weight in zip(styles, style_masks, normalised(blend, len(styles)), strict=True):
            for name, feature in features.items():
                layer_masks = masks_at(masks.to(feature.device), feature.shape[-2:])
                region_grams = torch.cat([gram_matrix(feature[:1], m[None]) for m in layer_masks]) * weight
                grams[name] = grams[name] + region_grams if name in grams else region_grams
        return cls(grams, content_masks.detach().float())

    def loss(
        self, features: Features, layer_weights: Mapping[str, float], reference: Features | None = None
    ) -> torch.Tensor:
        """Sum over layers and regions of area fraction x MSE(masked Gram, region target).

        Weighting each region by its share of the image makes one all-ones region give exactly the
        plain style term, and keeps a sliver of sky from counting as much as the whole building.
        """
        if reference is not None:
            raise ValueError("relative style terms are not defined per region")
        loss = torch.zeros((), device=self.content_masks.device)
        for name, weight in layer_weights.items():
            feature = features[name]
            for region, mask in enumerate(masks_at(self.content_masks, feature.shape[-2:])):
                share = mask.mean()
                if float(share) == 0.0:
                    continue  # region vanished at this resolution: nothing to match
                gram = gram_matrix(feature, mask[None])
                target = self.grams[name][region : region + 1].expand_as(gram)
                loss = loss + weight * share * F.mse_loss(gram, target)
        return loss

    def to(self, device: torch.device | str) -> RegionGramTarget:
        return RegionGramTarget({k: v.to(device) for k, v in self.grams.items()}, self.content_masks.to(device))
