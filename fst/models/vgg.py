"""Frozen VGG feature extractor addressed by layer name (`relu1_2`, `conv4_2`, `pool3`, ...).

Input is the project convention (RGB in [0, 1]); the conversion to what the weights were trained
on (torchvision's mean/std RGB, or Caffe's BGR 0..255 minus mean) happens here and nowhere else.
"""

from __future__ import annotations

from pathlib import Path
from typing import Literal

import torch
from torch import nn

InputConvention = Literal["torchvision", "caffe"]
Pooling = Literal["max", "avg"]

# Convolutions per block; "M" is a 2x2 pool. Same layout as torchvision's vgg16/vgg19 `.features`.
_BLOCKS = {"vgg16": [2, 2, 3, 3, 3], "vgg19": [2, 2, 4, 4, 4]}
_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)
_CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)


class VGGWeightsError(RuntimeError):
    """VGG weights cannot be had: the message says how to supply them."""


def layer_names(arch: str) -> list[str]:
    """Names of every module in `features`, in order: conv1_1, relu1_1, ..., pool1, ..."""
    if arch not in _BLOCKS:
        raise ValueError(f"arch must be one of {sorted(_BLOCKS)}, got {arch!r}")
    names = []
    for block, convs in enumerate(_BLOCKS[arch], start=1):
        for i in range(1, convs + 1):
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
        names.append(f"pool{block}")
    return names


def _build_features(arch: str, pooling: Pooling) -> nn.Sequential:
    layers: list[nn.Module] = []
    in_channels = 3
    widths = [64, 128, 256, 512, 512]
    for convs, width in zip(_BLOCKS[arch], widths, strict=True):
        for _ in range(convs):
            layers += [nn.Conv2d(in_channels, width, 3, padding=1), nn.ReLU(inplace=False)]
            in_channels = width
        # Gatys et al. found average pooling gives smoother results for image synthesis.
        layers.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
    return nn.Sequential(*layers)


def _load_state_dict(weights: str, arch: str) -> dict[str, torch.Tensor]:
    """Conv weights in torchvision's `features.N.weight` layout from a file or torchvision's API."""
    if weights == "torchvision":
        try:
            import torchvision.models as tvm

            enum = {"vgg16": tvm.VGG16_Weights, "vgg19": tvm.VGG19_Weights}[arch].IMAGENET1K_V1
            state = enum.get_state_dict(progress=False)
        except Exception as error:  # no network, no cache, proxy: all mean the same to the user
            raise VGGWeightsError(
                f"could not download torchvision {arch} weights ({type(error).__name__}); offline, "
                "point loss.vgg.weights (or FST_VGG_WEIGHTS) at a local .safetensors/.pth file "
                "in torchvision layout"
            ) from None
    else:
        path = Path(weights)
        if not path.is_file():
            raise VGGWeightsError(
                f"VGG weights file not found: {path}; set FST_VGG_WEIGHTS or loss.vgg.weights=PATH "
                "(a .safetensors/.pth in torchvision layout), or loss.vgg.weights=torchvision to download"
            )
        if path.suffix == ".safetensors":
            from safetensors.torch import load_file

            state = load_file(str(path))
        else:
            state = torch.load(path, map_location="cpu", weights_only=True)
    return {k: v for k, v in state.items() if k.startswith("features.")}


class VGGFeatures(nn.Module):
    """Frozen VGG-16/19 convolutional features, returned as a dict keyed by layer name.

    Args:
        arch: "vgg16" or "vgg19".
        weights: path to a .safetensors/.pth file in torchvision layout, "torchvision" to use
            torchvision's weights API (downloads), or "random" (tests only).
        input_convention: what the weights expect: "torchvision" (RGB, ImageNet mean/std) or
            "caffe" (BGR, 0..255, minus the ImageNet mean).
        pooling: "max" (standard) or "avg" (Gatys et al.).
        last_layer: drop every layer after this one (saves compute); None keeps all.
    """

    def __init__(
        self,
        arch: str = "vgg19",
        weights: str = "torchvision",
        input_convention: InputConvention = "torchvision",
        pooling: Pooling = "max",
        last_layer: str | None = None,
    ) -> None:
        super().__init__()
        if input_convention not in ("torchvision", "caffe"):
            raise ValueError(f"input_convention must be 'torchvision' or 'caffe', got {input_convention!r}")
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        self.arch = arch
        self.input_convention = input_convention
        self.pooling = pooling
        self.names = layer_names(arch)
        self.features = _build_features(arch, pooling)
        if weights != "random":
            state = _load_state_dict(weights, arch)
            state = {k.removeprefix("features."): v.float() for k, v in state.items()}
            try:
                missing, unexpected = self.features.load_state_dict(state, strict=False)
            except RuntimeError as error:  # shape mismatch: another architecture's file
                raise VGGWeightsError(
                    f"{weights}: not {arch} weights ({str(error).splitlines()[-1].strip()})"
                ) from None
            if missing or unexpected:
                raise VGGWeightsError(
                    f"{weights}: not {arch} weights in torchvision layout "
                    f"(missing {len(missing)} tensors, e.g. {missing[:1]}; unexpected {unexpected[:1]})"
                )
        if last_layer is not None:
            self.truncate_after(last_layer)
        if input_convention == "caffe":
            mean, scale = torch.tensor(_CAFFE_MEAN_BGR), torch.full((3,), 255.0)
        else:
            mean, scale = torch.tensor(_IMAGENET_MEAN), 1.0 / torch.tensor(_IMAGENET_STD)
        # Not persistent: the VGG is rebuilt from its file and never enters a checkpoint.
        self.register_buffer("mean", mean.view(1, 3, 1, 1), persistent=False)
        self.register_buffer("scale", scale.view(1, 3, 1, 1), persistent=False)
        self.requires_grad_(False)
        self.eval()

    def truncate_after(self, last_layer: str) -> None:
        """Keep only the layers up to and including `last_layer`."""
        if last_layer not in self.names:
            raise ValueError(f"unknown {self.arch} layer {last_layer!r}; known: {', '.join(self.names)}")
        keep = self.names.index(last_layer) + 1
        self.features = self.features[:keep]
        self.names = self.names[:keep]

    def train(self, mode: bool = True) -> VGGFeatures:
        # Frozen for good: Lightning's model.train() must not flip it (it has no dropout/BN anyway).
        return super().train(False)

    def normalize(self, image: torch.Tensor) -> torch.Tensor:
        """RGB in [0, 1] -> the weights' own input convention."""
        if self.input_convention == "caffe":
            image = image.flip(1) * self.scale - self.mean
        else:
            image = (image - self.mean) * self.scale
        return image

    def forward(self, image: torch.Tensor, layers: list[str] | tuple[str, ...]) -> dict[str, torch.Tensor]:
        """Features of `image` (N, 3, H, W, RGB in [0, 1]) at each named layer."""
        wanted = set(layers)
        unknown = wanted - set(self.names)
        if unknown:
            raise ValueError(f"layers {sorted(unknown)} are not in this {self.arch} (up to {self.names[-1]})")
        out: dict[str, torch.Tensor] = {}
        x = self.normalize(image)
        for name, module in zip(self.names, self.features, strict=True):
            x = module(x)
            if name in wanted:
                out[name] = x
                if len(out) == len(wanted):
                    break
        return out
