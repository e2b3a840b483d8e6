"""Perceptual loss: content, Gram-matrix style and total-variation terms on VGG features.

One implementation serves the trained network (Johnson) and the optimisation method (Gatys).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from fst.losses import semantic
from fst.losses.vgg import VGGFeatures


def gram_matrix(features: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
    """Gram matrix (N, C, C) of features (N, C, H, W), divided by C*H*W.

    Dividing by the number of elements makes the style term independent of image size, so
    a style learnt at 256 px keeps its weight at 512 px. With a `mask` (N or 1, 1, H, W, in
    [0, 1]) only the masked positions count and the divisor is C times the mask's area.
    Always float32: bf16 sums over H*W positions lose the precision the style term needs.
    """
    with torch.autocast(device_type=features.device.type, enabled=False):
        x = features.float()
        n, c, h, w = x.shape
        if mask is None:
            flat = x.reshape(n, c, h * w)
            return flat @ flat.transpose(1, 2) / (c * h * w)
        mask = mask.float().expand(n, 1, h, w)
        flat = (x * mask).reshape(n, c, h * w)
        area = mask.reshape(n, -1).sum(dim=1).clamp_min(1e-8)
        return flat @ flat.transpose(1, 2) / (c * area).view(n, 1, 1)


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Mean squared difference between neighbouring pixels (beta = 2 total variation)."""
    dh = image[..., 1:, :] - image[..., :-1, :]
    dw = image[..., :, 1:] - image[..., :, :-1]
    return dh.float().pow(2).mean() + dw.float().pow(2).mean()


class PerceptualLoss(nn.Module):
    """Weighted content, style and TV terms; `forward` returns them by name plus their `total`.

    Args:
        vgg: the frozen feature extractor (truncated here after the deepest layer used).
        content_layers: layers whose activations the output must match (e.g. ["relu2_2"]).
        style_layers: layers whose Gram matrices must match the style's; a list (weight 1 each)
            or a mapping from layer name to its weight.
        content_weight, style_weight, tv_weight: multipliers of the three terms.
        style_size: resize the style image so its long side has this many pixels (None: as given).
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
        used = set(self.content_layers) | set(self.style_layers)
        deepest = max(used, key=vgg.names.index)
        vgg.truncate_after(deepest)
        self.vgg = vgg
        self.layers = [name for name in vgg.names if name in used]
        self.style_targets: dict[str, torch.Tensor] = {}
        self.content_targets: dict[str, torch.Tensor] = {}
        # Semantic style transfer (optional): per-region Gram targets (R, C, C) by layer and the
        # content's region masks (R, 1, H, W); empty means the plain, whole-image style term.
        self.region_targets: dict[str, torch.Tensor] = {}
        self.content_masks: torch.Tensor | None = None

    def config(self) -> dict:
        """Plain description of this loss, for checkpoint metadata."""
        return {
            "arch": self.vgg.arch,
            "input_convention": self.vgg.input_convention,
            "content_layers": self.content_layers,
            "style_layers": self.style_layers,
            "content_weight": self.content_weight,
            "style_weight": self.style_weight,
            "tv_weight": self.tv_weight,
            "style_size": self.style_size,
        }

    def resize_style(self, style: torch.Tensor) -> torch.Tensor:
        if self.style_size is None or max(style.shape[-2:]) == self.style_size:
            return style
        scale = self.style_size / max(style.shape[-2:])
        size = [max(1, round(s * scale)) for s in style.shape[-2:]]
        return F.interpolate(style, size=size, mode="bilinear", antialias=True, align_corners=False).clamp(0, 1)

    @torch.no_grad()
    def set_style(
        self,
        styles: torch.Tensor | Sequence[torch.Tensor],
        blend: Sequence[float] | None = None,
        masks: Sequence[torch.Tensor] | None = None,
    ) -> None:
        """Compute target Gram matrices once from one style image (1, 3, H, W) or a weighted list.

        Args:
            masks: semantic style transfer only: one (R, 1, H, W) stack of region masks in [0, 1]
                per style image, region r matching region r of `set_content_masks`.
        """
        if isinstance(styles, torch.Tensor):
            styles = [styles]
        blend = list(blend) if blend is not None else [1.0] * len(styles)
        if len(blend) != len(styles):
            raise ValueError(f"{len(styles)} style images but {len(blend)} blend weights")
        total = sum(blend)
        self.region_targets = {}
        if masks is not None:
            if len(masks) != len(styles):
                raise ValueError(f"{len(styles)} style images but {len(masks)} mask stacks")
            self.region_targets = semantic.region_grams(
                self.vgg, [self.resize_style(s) for s in styles], masks, blend, list(self.style_layers)
            )
        targets: dict[str, torch.Tensor] = {}
        for style, weight in zip(styles, blend, strict=True):
            features = self.vgg(self.resize_style(style), list(self.style_layers))
            for name, feature in features.items():
                gram = gram_matrix(feature).mean(dim=0, keepdim=True) * (weight / total)
                targets[name] = targets[name] + gram if name in targets else gram
        self.style_targets = targets

    @torch.no_grad()
    def set_content(self, content: torch.Tensor) -> None:
        """Fix the content targets (optimisation method: one content image for all iterations)."""
        self.content_targets = {k: v.detach() for k, v in self.vgg(content, self.content_layers).items()}

    def set_content_masks(self, masks: torch.Tensor | None) -> None:
        """Region masks (R, 1, H, W) of the image being optimised (semantic style transfer), or None."""
        self.content_masks = None if masks is None else masks.detach().float()

    def _apply(self, fn, recurse: bool = True):
        # Targets are plain attributes (not buffers, so never checkpointed); move them with the module.
        module = super()._apply(fn, recurse)
        self.style_targets = {k: fn(v) for k, v in self.style_targets.items()}
        self.content_targets = {k: fn(v) for k, v in self.content_targets.items()}
        self.region_targets = {k: fn(v) for k, v in self.region_targets.items()}
        if self.content_masks is not None:
            self.content_masks = fn(self.content_masks)
        return module

    def style_term(self, features: Mapping[str, torch.Tensor]) -> torch.Tensor:
        if self.region_targets:
            return semantic.region_style_loss(features, self.region_targets, self.content_masks, self.style_layers)
        if not self.style_targets:
            raise RuntimeError("call set_style() before computing the style loss")
        loss = features[next(iter(features))].new_zeros((), dtype=torch.float32)
        for name, weight in self.style_layers.items():
            gram = gram_matrix(features[name])
            loss = loss + weight * F.mse_loss(gram, self.style_targets[name].expand_as(gram))
        return loss

    def forward(self, output: torch.Tensor, content: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        """Loss terms for `output` (N, 3, H, W in [0, 1]); content targets from `content` or `set_content`.

        Returns:
            {"content", "style", "tv"} already multiplied by their weights, and "total".
        """
        features = self.vgg(output, self.layers)
        if content is not None:
            with torch.no_grad():
                targets = self.vgg(content, self.content_layers)
        else:
            if not self.content_targets:
                raise RuntimeError("pass content or call set_content() first")
            targets = self.content_targets
        content_loss = sum(
            F.mse_loss(features[name].float(), targets[name].float().expand_as(features[name]))
            for name in self.content_layers
        )
        terms = {
            "content": self.content_weight * content_loss,
            "style": self.style_weight * self.style_term(features),
            "tv": self.tv_weight * total_variation(output),
        }
        terms["total"] = terms["content"] + terms["style"] + terms["tv"]
        return terms
