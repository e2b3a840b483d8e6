"""Arbitrary style transfer with adaptive instance normalisation (Huang & Belongie 2017).

A frozen VGG-19 encoder up to relu4_1, AdaIN (the content features renormalised to the style
features' channel means and standard deviations), and a decoder mirroring the encoder. Any style
image works without training: only its statistics at relu4_1 enter the forward pass.

Images are RGB in [0, 1] at both ends; VGG's Caffe input convention stays in `VGGFeatures`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import NamedTuple, TypeVar

import torch
import torch.nn.functional as F
from torch import nn

from fst.models.transformer import pad_to
from fst.models.vgg import VGGFeatures

ENCODER_LAYER = "relu4_1"
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1")
EPS = 1e-5
# Reflected margin around a photo at inference, cropped off after decoding: without it the
# encoder's zero padding prints a band of the style's hue along the top edge (~8 px, seen on
# Tübingen x The Scream at 512 px); with it, that band falls in the margin.
BORDER = 16


class ChannelStats(NamedTuple):
    """Per-sample, per-channel mean and standard deviation, each (N, C), float32."""

    mean: torch.Tensor
    std: torch.Tensor


def channel_stats(features: torch.Tensor, eps: float = EPS) -> ChannelStats:
    """Mean and standard deviation over H and W of (N, C, H, W) features.

    The population variance (divided by H*W, not H*W - 1): tiles of one image then pool to
    exactly the whole image's statistics. Always float32: bf16 sums over H*W positions drift.
    """
    with torch.autocast(device_type=features.device.type, enabled=False):
        x = features.float()
        var, mean = torch.var_mean(x, dim=(2, 3), correction=0)
        return ChannelStats(mean, (var + eps).sqrt())


def adaptive_instance_norm(
    content: torch.Tensor,
    style: ChannelStats,
    alpha: float | torch.Tensor = 1.0,
    content_stats: ChannelStats | None = None,
) -> torch.Tensor:
    """AdaIN: content features with the style's channel means and standard deviations.

    Args:
        content: (N, C, H, W) encoder features of the content.
        style: style statistics, (N or 1, C) each.
        alpha: content-style trade-off in feature space: 0 gives the content features back. A
            tensor (broadcast over the features, e.g. (1, C, 1, 1)) keeps it an input of a
            compiled graph (`torch.lerp` at 1 is exact).
        content_stats: the content's own statistics; given when `content` is one tile of a larger
            image, so that every tile is normalised by the whole image's statistics.
    """
    with torch.autocast(device_type=content.device.type, enabled=False):
        x = content.float()
        own = content_stats or channel_stats(x)
        normalised = (x - own.mean[..., None, None]) / own.std[..., None, None]
        stylized = normalised * style.std[..., None, None].float() + style.mean[..., None, None].float()
        if isinstance(alpha, float) and alpha == 1.0:
            return stylized
        return torch.lerp(x, stylized, alpha)


StyleStats = TypeVar("StyleStats", bound=tuple)


def blend_stats(stats: Sequence[StyleStats], weights: Sequence[float] | None = None) -> StyleStats:
    """Weighted mix of several styles' statistics (weights normalised to sum 1), field by field:
    `ChannelStats`, or WCT's `StyleColouring` (means and colouring matrices).

    The output is affine in each field for fixed content (AdaIN's mean and std, WCT's mean and
    colouring matrix), so mixing the statistics equals the papers' interpolation, a weighted sum of
    each style's output.
    """
    if not stats:
        raise ValueError("no style statistics to blend")
    weights = [1.0] * len(stats) if weights is None else list(weights)
    if len(weights) != len(stats):
        raise ValueError(f"{len(stats)} styles but {len(weights)} style weights")
    if any(w < 0 for w in weights) or sum(weights) <= 0:
        raise ValueError(f"style weights must be >= 0 with a positive sum, got {weights}")
    shares = [w / sum(weights) for w in weights]
    fields = zip(*stats, strict=True)  # each field's values across the styles
    mixed = (sum(share * value for share, value in zip(shares, values, strict=True)) for values in fields)
    return type(stats[0])(*mixed)


# 1 / 512: brings the raw Caffe VGG's relu4_1 (~700 rms on photos) near the paper's unit scale.
INPUT_SCALE = 2.0**-9


def _conv(in_channels: int, out_channels: int) -> nn.Sequential:
    # Reflection padding, as in the paper: zero borders make dark frames around decoded images.
    return nn.Sequential(nn.ReflectionPad2d(1), nn.Conv2d(in_channels, out_channels, 3))


class Decoder(nn.Module):
    """VGG-19 from relu4_1 back to RGB: conv4_1 ... conv1_1 mirrored, no normalisation.

    Pooling is mirrored by nearest upsampling followed by a convolution (no transposed
    convolutions: they leave checkerboard artefacts).

    Args:
        width: scales every channel count after the 512 input ones (1.0: the paper's; tests use
            a small width for speed).
        input_scale: fixed factor on the input features. The raw Caffe VGG's relu4_1 runs at
            ~700 rms for [0, 255] input, where the paper's normalised VGG runs near 1; fed raw,
            every Adam step on the first convolution is ~700x too large and the decoder barely
            learns (measured: content loss flat for 1,000 steps, against halved in 100 scaled).
    """

    def __init__(self, width: float = 1.0, in_channels: int = 512, input_scale: float = INPUT_SCALE) -> None:
        super().__init__()
        self.input_scale = input_scale
        c256, c128, c64 = (max(1, round(c * width)) for c in (256, 128, 64))
        relu = partial(nn.ReLU, inplace=True)  # a convolution's backward needs its input, not its output

        def up() -> nn.Upsample:
            return nn.Upsample(scale_factor=2, mode="nearest")

        self.layers = nn.Sequential(
            _conv(in_channels, c256), relu(), up(),  # mirrors conv4_1 and pool3
            _conv(c256, c256), relu(), _conv(c256, c256), relu(), _conv(c256, c256), relu(),
            _conv(c256, c128), relu(), up(),  # conv3_1, pool2
            _conv(c128, c128), relu(),
            _conv(c128, c64), relu(), up(),  # conv2_1, pool1
            _conv(c64, c64), relu(),
            _conv(c64, 3),  # conv1_1: no ReLU, the output head clamps
        )  # fmt: skip

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.layers(features * self.input_scale)


class AdaINModel(nn.Module):
    """Frozen VGG-19 encoder to relu4_1 + AdaIN + trainable decoder; RGB [0, 1] in and out.

    Args:
        vgg_weights: the VGG-19 file (Caffe layout of `../shared/assets/vgg`), or "random" when
            the weights come from an exported file (`fst.checkpoint.load_adain`) or in tests.
        decoder_width: see `Decoder`.
    """

    stride = 8  # three 2x2 poolings: H and W are padded to a multiple of 8 and cropped back
    min_size = 16  # relu4_1 at least 2x2: the decoder's reflection padding needs 2 pixels

    def __init__(
        self, vgg_weights: str = "random", decoder_width: float = 1.0, decoder_input_scale: float = INPUT_SCALE
    ) -> None:
        super().__init__()
        self.decoder_width, self.decoder_input_scale = decoder_width, decoder_input_scale
        self.encoder = VGGFeatures("vgg19", weights=vgg_weights, input_convention="caffe", last_layer=ENCODER_LAYER)
        self.decoder = Decoder(decoder_width, input_scale=decoder_input_scale)

    def architecture(self) -> dict[str, float]:
        """Constructor arguments that rebuild this model (the weights come from the file)."""
        return {"decoder_width": self.decoder_width, "decoder_input_scale": self.decoder_input_scale}

    def train(self, mode: bool = True) -> AdaINModel:
        super().train(mode)
        self.encoder.eval()  # frozen for good (VGGFeatures.train refuses to switch as well)
        return self

    def pad(self, x: torch.Tensor, border: int = 0, min_size: int | None = None) -> torch.Tensor:
        """Reflect `border` pixels on every side of (N, C, H, W), then pad at the bottom and right to
        a multiple of the stride, at least `min_size` (default: the model's)."""
        if border:
            x = F.pad(x, (border,) * 4, mode="reflect" if border < min(x.shape[-2:]) else "replicate")
        height, width = x.shape[-2:]
        low = self.min_size if min_size is None else min_size
        size = [max(low, side + (-side) % self.stride) for side in (height, width)]
        return pad_to(x, (size[0], size[1]))

    def encode(self, image: torch.Tensor, layers: Sequence[str] = (ENCODER_LAYER,)) -> dict[str, torch.Tensor]:
        """Encoder features of (N, 3, H, W) RGB in [0, 1] at each named layer."""
        return self.encoder(image, tuple(layers))

    def style_stats(self, style: torch.Tensor) -> ChannelStats:
        """Statistics of a style image (N, 3, H, W) at relu4_1, what the forward pass needs of it."""
        return channel_stats(self.encode(self.pad(style))[ENCODER_LAYER])

    def decode(self, features: torch.Tensor) -> torch.Tensor:
        """Decoder output clamped to [0, 1]."""
        image = self.decoder(features)
        if not image.requires_grad:
            return image.clamp(0.0, 1.0)
        # Straight-through clamp (as TransformerNet.head): the loss sees what inference writes,
        # while saturated pixels still get the gradient that brings them back.
        return image + (image.clamp(0.0, 1.0) - image).detach()

    def forward(
        self,
        content: torch.Tensor,
        style: ChannelStats,
        alpha: float | torch.Tensor = 1.0,
        content_stats: ChannelStats | None = None,
        border: int = 0,
    ) -> torch.Tensor:
        """Stylize (N, 3, H, W) RGB in [0, 1] with the style statistics; same size out.

        Args:
            style: statistics at relu4_1 (`style_stats`, `blend_stats`), (N or 1, 512) each.
            alpha: 0..1, content-style trade-off in feature space.
            content_stats: whole-image statistics at relu4_1 when `content` is a tile.
            border: reflected margin (`BORDER` at inference; training crops use none).
        """
        transfer = partial(adaptive_instance_norm, style=style, alpha=alpha, content_stats=content_stats)
        return self.stylize(content, transfer, border)

    def stylize(
        self, content: torch.Tensor, transfer: Callable[[torch.Tensor], torch.Tensor], border: int = 0
    ) -> torch.Tensor:
        """Encode (N, 3, H, W) RGB in [0, 1], map the relu4_1 features with `transfer` (AdaIN, or
        `fst.models.wct.covariance_transfer`), decode; same size out. `border`: as `forward`."""
        height, width = content.shape[-2:]
        features = self.encode(self.pad(content, border))[ENCODER_LAYER]
        target = transfer(features)
        return self.decode(target.to(features.dtype))[..., border : border + height, border : border + width]


def stats_of(features: Mapping[str, torch.Tensor]) -> dict[str, ChannelStats]:
    """Channel statistics of every layer of a feature dict."""
    return {name: channel_stats(value) for name, value in features.items()}
