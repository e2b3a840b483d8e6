"""Perceptual loss: weighted content, style and total-variation terms on VGG features.

One implementation serves the trained network (Johnson) and the optimisation method (Gatys). The
loss owns the VGG, the layers and the weights; the targets are objects passed to `forward`
(`content_target`, `style_target`, `region_style_target` build them), so nothing is set on the
loss from outside and the targets never enter a checkpoint.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from fst.losses.targets import GramTarget, RegionGramTarget, StyleTarget
from fst.losses.terms import content_loss, total_variation
from fst.models.vgg import VGGFeatures
from fst.resize import resize_long_side

ContentTarget = dict[str, torch.Tensor]  # content-layer activations of one fixed image


class PerceptualLoss(nn.Module):
    """Weighted content, style and TV terms; `forward` returns them by name plus their `total`.

    Args:
        vgg: the frozen feature extractor (truncated here after the deepest layer used).
        content_layers: layers whose activations the output must match (e.g. ["relu2_2"]).
        style_layers: layers whose Gram matrices must match the style's; a list (weight 1 each)
            or a mapping from layer name to its weight.
        content_weight, style_weight, tv_weight: multipliers of the three terms.
        style_size: style images are resized so their long side has this many pixels (None: as given).
        relative: measure content and style errors relative to the content images' own (the
            judge's terms): content error / the photo's activation energy, and per layer the
            output's Gram error / the photo's Gram error to the style. Dimensionless terms that
            weigh every layer and every style alike.
    """

    def __init__(
        self,
        vgg: VGGFeatures,
        content_layers: Sequence[str],
        style_layers: Sequence[str] | Mapping[str, float],
        content_weight: float = 1.0,
        style_weight: float = 1.0,
        tv_weight: float = 0.0,
        style_size: int | None = None,
        relative: bool = False,
    ) -> None:
        super().__init__()
        if not isinstance(style_layers, Mapping):
            style_layers = {name: 1.0 for name in style_layers}
        self.content_layers = list(content_layers)
        self.style_layers = {name: float(weight) for name, weight in style_layers.items()}
        self.content_weight = float(content_weight)
        self.style_weight = float(style_weight)
        self.tv_weight = float(tv_weight)
        self.style_size = style_size
        self.relative = bool(relative)
        used = set(self.content_layers) | set(self.style_layers)
        vgg.truncate_after(max(used, key=vgg.names.index))
        self.vgg = vgg
        self.layers = [name for name in vgg.names if name in used]

    def config(self) -> dict[str, Any]:
        """Everything `from_config` needs to rebuild this loss (but the VGG file): checkpoint metadata."""
        return {
            "arch": self.vgg.arch,
            "input_convention": self.vgg.input_convention,
            "pooling": self.vgg.pooling,
            "content_layers": self.content_layers,
            "style_layers": self.style_layers,
            "content_weight": self.content_weight,
            "style_weight": self.style_weight,
            "tv_weight": self.tv_weight,
            "style_size": self.style_size,
            "relative": self.relative,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any], vgg_weights: str) -> PerceptualLoss:
        """The loss `config()` described, on the VGG weights in `vgg_weights`.

        Files exported before pooling was recorded were all trained with max pooling.
        """
        vgg = VGGFeatures(config["arch"], vgg_weights, config["input_convention"], config.get("pooling", "max"))
        names = ("content_layers", "style_layers", "content_weight", "style_weight", "tv_weight", "style_size")
        return cls(vgg, **{name: config[name] for name in names}, relative=config.get("relative", False))

    @torch.no_grad()
    def content_target(self, content: torch.Tensor) -> ContentTarget:
        """Activations of a fixed content image (optimisation: one for all iterations).

        A relative loss also keeps the style layers': its style errors are measured against them.
        """
        layers = self.layers if self.relative else self.content_layers
        return {name: f.detach() for name, f in self.vgg(content, layers).items()}

    @torch.no_grad()
    def style_target(
        self, styles: torch.Tensor | Sequence[torch.Tensor], blend: Sequence[float] | None = None
    ) -> GramTarget:
        """Gram targets of one style image (1, 3, H, W) or a weighted blend of several."""
        styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
        return GramTarget.from_features([self._style_features(style) for style in styles], blend)

    @torch.no_grad()
    def region_style_target(
        self,
        styles: Sequence[torch.Tensor],
        style_masks: Sequence[torch.Tensor],
        content_masks: torch.Tensor,
        blend: Sequence[float] | None = None,
    ) -> RegionGramTarget:
        """Semantic style transfer: region r of the output matches region r of every style.

        Args:
            style_masks: one (R, 1, H, W) stack of region masks in [0, 1] per style image.
            content_masks: (R, 1, H, W) regions of the image being stylised.
        """
        features = [self._style_features(style) for style in styles]
        return RegionGramTarget.from_features(features, style_masks, content_masks, blend)

    def _style_features(self, style: torch.Tensor) -> dict[str, torch.Tensor]:
        return self.vgg(resize_long_side(style, self.style_size), list(self.style_layers))

    def forward(
        self, output: torch.Tensor, content: torch.Tensor | ContentTarget, style: StyleTarget
    ) -> dict[str, torch.Tensor]:
        """Loss terms for `output` (N, 3, H, W in [0, 1]).

        Args:
            content: the content images (N, 3, H, W), or a fixed `content_target` of them.
            style: a `style_target` or `region_style_target`.

        Returns:
            {"content", "style", "tv"} already multiplied by their weights, and "total".
        """
        features = self.vgg(output, self.layers)
        reference = self.content_target(content) if isinstance(content, torch.Tensor) else content
        style_reference = reference if self.relative else None
        terms = {
            "content": self.content_weight
            * content_loss(features, {name: reference[name] for name in self.content_layers}, self.relative),
            "style": self.style_weight * style.loss(features, self.style_layers, style_reference),
            "tv": self.tv_weight * total_variation(output),
        }
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms
