"""The loss terms on VGG features and pixels: Gram matrices, content, style and total variation.

Pure functions of tensors: which layers and weights to use, and what the targets are, is decided
by `PerceptualLoss` and the target objects in `fst.losses.targets`.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch


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


def content_loss(
    features: Mapping[str, torch.Tensor],
    targets: Mapping[str, torch.Tensor],
    relative: bool = False,
) -> torch.Tensor:
    """Sum over the target layers of the mean squared feature difference (float32).

    `relative`: each image's error is divided by its target's own mean squared activation (the
    judge's content error), so the term is dimensionless and ~1 for an image with none of the content.
    """
    loss = torch.zeros((), device=next(iter(targets.values())).device)
    for name, target in targets.items():
        feature = features[name].float()
        target = target.float().expand_as(feature)
        errors = (feature - target).pow(2).flatten(1).mean(dim=1)  # one per image
        if relative:
            errors = errors / target.pow(2).flatten(1).mean(dim=1).clamp_min(1e-12)
        loss = loss + errors.mean()
    return loss


def relative_gram_error(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean over images of |Gram(features) - Gram(target)|^2 / |Gram(target)|^2 (~1: none of it)."""
    theirs = gram_matrix(target)
    errors = _gram_errors(gram_matrix(features), theirs)
    return (errors / theirs.pow(2).flatten(1).mean(dim=1).clamp_min(1e-12)).mean()


def _gram_errors(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of each image's Gram matrix from its target: (N,)."""
    return (gram - target.expand_as(gram)).pow(2).flatten(1).mean(dim=1)


def gram_loss(
    features: Mapping[str, torch.Tensor],
    grams: Mapping[str, torch.Tensor],
    layer_weights: Mapping[str, float],
    reference: Mapping[str, torch.Tensor] | None = None,
    entry_weights: Mapping[str, torch.Tensor] | None = None,
) -> torch.Tensor:
    """Sum over layers of weight x MSE(Gram of `features`, target Gram (1 or N, C, C)).

    `entry_weights` {layer: (N,)} weighs each image's error at that layer in the batch mean
    (layers not named, or no mapping: all 1).

    With `reference` (features of the content images), each image's error at each layer is divided
    by its content image's own error: the fraction of the photo's distance to the style that is left.
    Layers and styles then count alike whatever their raw Gram magnitudes, which on the Caffe VGG
    differ by orders of magnitude between relu1_1 and relu5_1 and between paintings.
    """
    loss = torch.zeros((), device=next(iter(grams.values())).device)
    for name, weight in layer_weights.items():
        gram = gram_matrix(features[name])
        errors = _gram_errors(gram, grams[name])
        if reference is not None:
            with torch.no_grad():  # the photo's own error is a fixed yardstick, not trained towards
                baseline = _gram_errors(gram_matrix(reference[name]), grams[name])
            errors = errors / baseline.clamp_min(1e-12)
        if entry_weights is not None and name in entry_weights:
            errors = errors * entry_weights[name].to(errors.device, errors.dtype)
        loss = loss + weight * errors.mean()
    return loss
