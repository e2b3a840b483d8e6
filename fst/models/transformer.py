"""Johnson et al.'s image transformation network (ECCV 2016) with instance normalisation.

Pixel convention: input and output are float RGB in [0, 1], (N, 3, H, W). The output has the
input's exact height and width for any size: the input is reflection-padded to a multiple of
the total stride and the output cropped back.

The forward is written once, `crop(head(stages(pad(x))))`, and its parts are public: tiling runs
the stages in slices, and variants of the net (whole-image norm statistics, `fst.models.norms`)
swap its instance norms with `with_norms` instead of copying the forward.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

UpsampleMode = Literal["nearest", "transpose"]
OutputHead = Literal["clamp", "tanh"]


class ConvLayer(nn.Sequential):
    """Reflection pad + convolution: reflection instead of zeros so borders get no dark frame."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            nn.ReflectionPad2d(kernel_size // 2),
            nn.Conv2d(in_channels, out_channels, kernel_size, stride),
        )


class ConvNormReLU(nn.Sequential):
    def __init__(self, in_channels: int, out_channels: int, kernel_size: int, stride: int = 1) -> None:
        super().__init__(
            ConvLayer(in_channels, out_channels, kernel_size, stride),
            nn.InstanceNorm2d(out_channels, affine=True),
            nn.ReLU(inplace=True),
        )


class ResidualBlock(nn.Module):
    """Two 3x3 conv + instance norm layers with an identity shortcut (He et al., as in Johnson)."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            ConvNormReLU(channels, channels, 3),
            ConvLayer(channels, channels, 3),
            nn.InstanceNorm2d(channels, affine=True),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class UpsampleConv(nn.Sequential):
    """x2 nearest upsampling then a convolution.

    Why not a transposed convolution: its uneven kernel overlap prints checkerboard artefacts
    (Odena et al., 2016); upsample-then-convolve cannot.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int) -> None:
        super().__init__(
            nn.Upsample(scale_factor=2, mode="nearest"),
            ConvLayer(in_channels, out_channels, kernel_size),
        )


def _upsample_block(in_channels: int, out_channels: int, mode: UpsampleMode) -> nn.Sequential:
    if mode == "nearest":
        conv: nn.Module = UpsampleConv(in_channels, out_channels, 3)
    elif mode == "transpose":
        conv = nn.ConvTranspose2d(in_channels, out_channels, 3, stride=2, padding=1, output_padding=1)
    else:
        raise ValueError(f"upsample must be 'nearest' or 'transpose', got {mode!r}")
    return nn.Sequential(conv, nn.InstanceNorm2d(out_channels, affine=True), nn.ReLU(inplace=True))


class TransformerNet(nn.Module):
    """The feed-forward stylisation network.

    Args:
        channels: widths of the three encoder stages; (32, 64, 128) is Johnson's net,
            (16, 32, 64) the reference code's half-width model. With `space_to_depth` two widths.
        num_residual_blocks: residual blocks at the lowest resolution (Johnson: 5).
        upsample: "nearest" (upsample + conv, default) or "transpose" (transposed conv).
        output_head: "clamp" (identity, clamped to [0, 1]) or "tanh" (scaled tanh into [0, 1]).
        space_to_depth: True: nothing runs at full resolution. The first stage (9x9 conv) and the
            first stride-2 conv become a 2x2 pixel unshuffle (12 channels at half resolution) into
            one 5x5 conv; the last upsampling stage and the 9x9 output conv become a 5x5 conv into
            12 channels and a pixel shuffle. On a CPU the full-resolution stages, few channels
            wide, cost most of the half-width net's time for a sixth of its multiply-adds.
    """

    stride = 4  # two stride-2 stages: inputs are padded to a multiple of this
    min_size = 8  # the 9x9 reflection pads need > 4 px, the 3x3 ones at 1/4 scale need > 1 px

    def __init__(
        self,
        channels: Sequence[int] = (32, 64, 128),
        num_residual_blocks: int = 5,
        upsample: UpsampleMode = "nearest",
        output_head: OutputHead = "clamp",
        space_to_depth: bool = False,
    ) -> None:
        super().__init__()
        widths = 2 if space_to_depth else 3
        if len(channels) != widths:
            raise ValueError(f"channels needs {widths} widths, got {list(channels)}")
        if output_head not in ("clamp", "tanh"):
            raise ValueError(f"output_head must be 'clamp' or 'tanh', got {output_head!r}")
        self.channels = [int(c) for c in channels]
        self.num_residual_blocks = int(num_residual_blocks)
        self.upsample = upsample
        self.output_head = output_head
        self.space_to_depth = bool(space_to_depth)
        *outer, c2, c3 = self.channels
        if self.space_to_depth:  # the stride-2 stages' keys and shapes stay those of a 3-width net
            entry: list[nn.Module] = [nn.PixelUnshuffle(2), ConvNormReLU(12, c2, 5)]
            exit_: list[nn.Module] = [ConvLayer(c2, 12, 5), nn.PixelShuffle(2)]
        else:
            c1 = outer[0]
            entry = [ConvNormReLU(3, c1, 9), ConvNormReLU(c1, c2, 3, stride=2)]
            exit_ = [_upsample_block(c2, c1, upsample), ConvLayer(c1, 3, 9)]
        self.encoder = nn.Sequential(*entry, ConvNormReLU(c2, c3, 3, stride=2))
        self.residuals = nn.Sequential(*(ResidualBlock(c3) for _ in range(self.num_residual_blocks)))
        self.decoder = nn.Sequential(_upsample_block(c3, c2, upsample), *exit_)

    def architecture(self) -> dict:
        """The constructor arguments: enough to rebuild this net from an exported file."""
        return {
            "channels": list(self.channels),
            "num_residual_blocks": self.num_residual_blocks,
            "upsample": self.upsample,
            "output_head": self.output_head,
            "space_to_depth": self.space_to_depth,
        }

    def gflop_per_megapixel(self) -> float:
        """Floating-point operations of one forward pass per output megapixel, in GFLOP: what a
        style costs to run (the full-width net 308, i.e. 323 per 1024x1024 image)."""
        from torch.utils.flop_counter import FlopCounterMode  # only exports count: keep it off start-up

        side = 64  # a multiple of every stride; the convolutions' cost per pixel does not depend on it
        plain = TransformerNet(**TransformerNet.architecture(self))  # the same layers with plain norms
        counter = FlopCounterMode(display=False)
        with counter, torch.no_grad():
            y = torch.zeros(1, 3, side, side)
            for stage in plain.stages:
                y = stage(y)
        return round(counter.get_total_flops() / (side * side) * 1e6 / 1e9, 2)

    def padded_size(self, height: int, width: int) -> tuple[int, int]:
        """The (height, width) the stages run at: a multiple of `stride`, at least `min_size`."""
        return (
            max(self.min_size, height + (-height) % self.stride),
            max(self.min_size, width + (-width) % self.stride),
        )

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """Pad (N, C, H, W) at the bottom and right to `padded_size`; `x` itself when it fits."""
        return pad_to(x, self.padded_size(*x.shape[-2:]))

    @property
    def stages(self) -> list[nn.Module]:
        """The blocks in execution order, each mapping a tensor to a tensor (tiling runs slices)."""
        return [*self.encoder, *self.residuals, *self.decoder]

    def head(self, y: torch.Tensor) -> torch.Tensor:
        """The output head: the last convolution's output into [0, 1]."""
        if self.output_head == "tanh":
            return (torch.tanh(y) + 1.0) * 0.5
        if not y.requires_grad:  # inference: the plain clamp, the same values in one op
            return y.clamp(0.0, 1.0)
        # Straight-through clamp: the forward pass is clamped exactly as at inference, but the
        # gradient passes as if unclamped so saturated pixels can still learn their way back.
        return y + (y.clamp(0.0, 1.0) - y).detach()

    def with_norms(self, factory: Callable[[nn.InstanceNorm2d], nn.Module]) -> TransformerNet:
        """A copy sharing this net's parameters, every `nn.InstanceNorm2d` replaced by `factory(norm)`.

        The copy runs this class's forward: a variant of the net swaps the norm, never the forward.
        """
        # The memo makes deepcopy hand back the same Parameter objects: the weights are shared, so
        # training, loading or moving the original (in place, as `.to` does) changes the copy too.
        clone = copy.deepcopy(self, memo={id(p): p for p in self.parameters()})
        for name, module in list(clone.named_modules()):
            if isinstance(module, nn.InstanceNorm2d):
                clone.set_submodule(name, factory(module))
        return clone

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Stylise a batch (N, 3, H, W) of RGB in [0, 1]; returns the same shape in [0, 1]."""
        if not (torch.compiler.is_compiling() or torch.jit.is_tracing()):  # a check, not part of the graph
            check_pixel_range(x)
        height, width = x.shape[-2:]
        y = self.pad(x)
        for stage in self.stages:
            y = stage(y)
        return self.head(y[..., :height, :width])  # crop first: the head is per pixel


def pad_to(x: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Pad (N, C, H, W) at the bottom and right to `size`; `x` itself when it has that size."""
    height, width = x.shape[-2:]
    pad_h, pad_w = size[0] - height, size[1] - width
    if not (pad_h or pad_w):
        return x
    # Reflection needs pad < size; replicate covers the tiny images reflection cannot.
    mode = "reflect" if pad_h < height and pad_w < width else "replicate"
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def check_pixel_range(x: torch.Tensor) -> None:
    """Reject inputs in another pixel convention (0..255, ImageNet-normalised) before they train."""
    if x.dim() != 4 or x.shape[1] != 3:
        raise ValueError(f"TransformerNet expects (N, 3, H, W) RGB, got shape {tuple(x.shape)}")
    if x.numel() and (x.amin() < -0.01 or x.amax() > 1.01):
        raise ValueError(
            f"TransformerNet expects RGB in [0, 1], got values in [{x.amin():.3g}, {x.amax():.3g}]: "
            "a 0..255 or mean/std-normalised image was passed"
        )
