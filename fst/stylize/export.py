"""Export a loaded stylizer to ONNX (dynamic height and width) or TorchScript for other runtimes."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn


class _Deployable(nn.Module):
    """The net without its Python-side input check (data-dependent control flow does not trace)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        return self.net(image).clamp(0, 1)


def export_onnx(net: nn.Module, path: str | Path, opset: int = 17, example_size: int = 64) -> Path:
    """Write an ONNX model: input "image" (N, 3, H, W) RGB in [0, 1] -> output "stylized", same shape.

    Height and width are dynamic; the net's own pad-to-a-multiple-of-4 and crop are traced with them.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, example_size + 2, example_size + 6)  # not a multiple of 4: trace the padding
    dims = {0: "batch", 2: "height", 3: "width"}
    torch.onnx.export(
        _Deployable(net.float().eval()),
        (example,),
        str(path),
        input_names=["image"],
        output_names=["stylized"],
        dynamic_axes={"image": dims, "stylized": dims},
        opset_version=opset,
        dynamo=False,
    )
    return path


def export_torchscript(net: nn.Module, path: str | Path, example_size: int = 64) -> Path:
    """Write a traced TorchScript module with the same contract as the ONNX file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    example = torch.rand(1, 3, example_size + 2, example_size + 6)
    with torch.no_grad():
        traced = torch.jit.trace(_Deployable(net.float().eval()), example, check_trace=False)
    traced.save(str(path))
    return path
