"""Distillation loss: a student net's output against its teacher's, in pixels and VGG features.

The teacher's output is the target: no style image and no Gram matrix is needed, since the
teacher already is the style. Pixels alone teach colour and layout but average the fine strokes
away where the student cannot place them exactly; a few VGG feature terms ask for the strokes'
texture instead of their exact pixels, and Gram terms ask for the teacher's texture statistics
wherever the strokes fall (the deep layers, where the painted forms are).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

import torch
from torch import nn

from fst.losses.terms import content_loss, relative_gram_error
from fst.models.vgg import VGGFeatures

PixelNorm = Literal["l1", "mse"]


class DistillationLoss(nn.Module):
    """Weighted pixel and feature terms; `forward` returns them by name plus their `total`.

    Args:
        vgg: the frozen feature extractor (truncated after the deepest feature layer); None when
            `feature_layers` is empty.
        pixel_weight: multiplier of the mean pixel error (RGB in [0, 1]).
        pixel_norm: "l1" (mean absolute error: sharper, robust to the teacher's outliers) or "mse".
        feature_layers: {layer: weight}; each layer's term is the squared feature error relative to
            the teacher's own feature energy (dimensionless, ~1 for an unrelated image), so layers
            with raw energies 100x apart count alike.
        feature_weight: multiplier of the summed feature terms.
        gram_layers: {layer: weight}; each layer's term is the squared error of the output's Gram
            matrix to the teacher output's, relative to the latter's energy (~1 for none of it).
        gram_weight: multiplier of the summed Gram terms.
    """

    def __init__(
        self,
        vgg: VGGFeatures | None = None,
        pixel_weight: float = 1.0,
        pixel_norm: PixelNorm = "l1",
        feature_layers: Mapping[str, float] | None = None,
        feature_weight: float = 0.0,
        gram_layers: Mapping[str, float] | None = None,
        gram_weight: float = 0.0,
    ) -> None:
        super().__init__()
        if pixel_norm not in ("l1", "mse"):
            raise ValueError(f"pixel_norm must be 'l1' or 'mse', got {pixel_norm!r}")
        self.pixel_weight = float(pixel_weight)
        self.pixel_norm = pixel_norm
        self.feature_layers = {name: float(weight) for name, weight in (feature_layers or {}).items()}
        self.feature_weight = float(feature_weight)
        self.gram_layers = {name: float(weight) for name, weight in (gram_layers or {}).items()}
        self.gram_weight = float(gram_weight)
        self.vgg_layers = list(dict.fromkeys([*self.feature_layers, *self.gram_layers]))
        if self.vgg_layers and vgg is None:
            raise ValueError(f"feature_layers and gram_layers {self.vgg_layers} need a vgg")
        if vgg is not None and self.vgg_layers:
            vgg.truncate_after(max(self.vgg_layers, key=vgg.names.index))
        self.vgg = vgg if self.vgg_layers else None

    def config(self) -> dict[str, Any]:
        """What this loss was: exported files record it beside the teacher's."""
        return {
            "pixel_weight": self.pixel_weight,
            "pixel_norm": self.pixel_norm,
            "feature_layers": self.feature_layers,
            "feature_weight": self.feature_weight,
            "gram_layers": self.gram_layers,
            "gram_weight": self.gram_weight,
            "vgg": None if self.vgg is None else {"arch": self.vgg.arch, "input_convention": self.vgg.input_convention},
        }

    def forward(self, output: torch.Tensor, target: torch.Tensor) -> dict[str, torch.Tensor]:
        """Terms for the student's `output` against the teacher's `target`, both (N, 3, H, W) in [0, 1].

        Returns:
            {"pixel", "features", "gram"} already multiplied by their weights, and "total".
        """
        target = target.detach()  # the teacher's side is a constant, whatever graph it came from
        difference = output.float() - target.float()
        pixel = difference.abs().mean() if self.pixel_norm == "l1" else difference.square().mean()
        features = torch.zeros((), device=output.device)
        grams = torch.zeros((), device=output.device)
        if self.vgg is not None:
            with torch.no_grad():
                targets = self.vgg(target, self.vgg_layers)
            ours = self.vgg(output, self.vgg_layers)
            for name, weight in self.feature_layers.items():
                features = features + weight * content_loss({name: ours[name]}, {name: targets[name]}, relative=True)
            for name, weight in self.gram_layers.items():
                grams = grams + weight * relative_gram_error(ours[name], targets[name])
        terms = {
            "pixel": self.pixel_weight * pixel,
            "features": self.feature_weight * features,
            "gram": self.gram_weight * grams,
        }
        terms["total"] = terms["pixel"] + terms["features"] + terms["gram"]
        return terms
