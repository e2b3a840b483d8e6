"""AdaIN's training loss (Huang & Belongie 2017), on encoder features the model computes.

content = MSE at relu4_1 between the output's features and the AdaIN target (not the content
image's features: the decoder must invert AdaIN). style = sum over relu1_1..relu4_1 of the MSE of
channel means plus the MSE of channel standard deviations, output against style image, each
layer's term times its weight (the paper: all 1).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from fst.models.adain import ENCODER_LAYER, STYLE_LAYERS, ChannelStats, channel_stats


class AdaINLoss(nn.Module):
    """Weighted content and style terms; returns a dict of named terms and their total.

    Args:
        style_layers: encoder layers whose statistics are matched, or {layer: weight}. On the raw
            Caffe VGG the layers' feature energies differ ~500x (relu1_1 ~1e3, relu4_1 ~6e5), so
            with equal weights relu4_1 dominates and colour (relu1_1) is barely matched; weights
            near the inverse energies make each layer count alike (`loss=adain_balanced`).
        content_layer: where the output must match the AdaIN target (the model's encoder output).
        style_weight: the paper's lambda (10).
    """

    def __init__(
        self,
        style_layers: Sequence[str] | Mapping[str, float] = STYLE_LAYERS,
        content_layer: str = ENCODER_LAYER,
        content_weight: float = 1.0,
        style_weight: float = 10.0,
    ) -> None:
        super().__init__()
        weights = style_layers if isinstance(style_layers, Mapping) else dict.fromkeys(style_layers, 1.0)
        self.layer_weights = {name: float(weight) for name, weight in weights.items()}
        self.style_layers = list(self.layer_weights)
        self.content_layer = content_layer
        self.content_weight = content_weight
        self.style_weight = style_weight

    @property
    def layers(self) -> list[str]:
        """Every encoder layer the loss reads, for one encoder pass over the output."""
        return list(dict.fromkeys([*self.style_layers, self.content_layer]))

    def config(self) -> dict[str, Any]:
        """What the exported file records about the loss."""
        return {
            "kind": "adain",
            "style_layers": self.layer_weights,
            "content_layer": self.content_layer,
            "content_weight": self.content_weight,
            "style_weight": self.style_weight,
        }

    def forward(
        self,
        output_features: Mapping[str, torch.Tensor],
        target: torch.Tensor,
        style: Mapping[str, ChannelStats],
    ) -> dict[str, torch.Tensor]:
        """Terms for the decoded output.

        Args:
            output_features: encoder features of the output at `layers`.
            target: the AdaIN target at `content_layer` (N, C, H, W).
            style: the style images' statistics at each of `style_layers`, (N, C) each.
        """
        with torch.autocast(device_type=target.device.type, enabled=False):
            content = F.mse_loss(output_features[self.content_layer].float(), target.float())
            style_term = torch.zeros((), device=target.device)
            for name, weight in self.layer_weights.items():
                mean, std = channel_stats(output_features[name])
                mismatch = F.mse_loss(mean, style[name].mean) + F.mse_loss(std, style[name].std)
                style_term = style_term + weight * mismatch
        terms = {"content": self.content_weight * content, "style": self.style_weight * style_term}
        terms["total"] = terms["content"] + terms["style"]
        return terms
