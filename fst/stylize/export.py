"""Export a loaded net for other runtimes, through `torch.export` (TorchScript is deprecated).

- ONNX (`export_onnx`): the `torch.export`-based exporter; input "image" (N, 3, H, W) RGB in
  [0, 1], output "stylized" of the same shape.
- A `torch.export` program (`export_program`, a `.pt2` file): the same contract for PyTorch
  users, loaded with `torch.export.load(path).module()`; no Python class of fst needed.

Batch, height and width are dynamic; H and W must be multiples of 4 (the net's stride), at least
8: pad other sizes by reflection at the bottom and right and crop the output back, as fst does
(`TransformerNet.pad`). Why: with arbitrary symbolic sizes the reflection padding inside the graph
raises guards `torch.export` cannot prove (pad < size), so the padding stays outside. fp32.
"""

from __future__ import annotations

from pathlib import Path

import torch

from fst.models.adain import BORDER, AdaINModel
from fst.models.transformer import TransformerNet


def _exported(net: TransformerNet) -> torch.export.ExportedProgram:
    net = net.float().eval()
    stride, low = net.stride, -(-net.min_size // net.stride)
    # Unequal sides and batch 2, so nothing is specialised to the example.
    example = torch.rand(2, 3, 8 * stride, 10 * stride)
    dims = {
        0: torch.export.Dim("batch", min=1, max=1024),
        2: stride * torch.export.Dim("height_in_strides", min=low, max=16384 // stride),
        3: stride * torch.export.Dim("width_in_strides", min=low, max=16384 // stride),
    }
    with torch.no_grad():
        return torch.export.export(net, (example,), dynamic_shapes={"x": dims})


def export_onnx(net: TransformerNet, path: str | Path) -> Path:
    """Write an ONNX model: "image" (N, 3, H, W) in [0, 1] -> "stylized", same shape."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    program = _exported(net)
    onnx_program = torch.onnx.export(program, input_names=["image"], output_names=["stylized"], dynamo=True)
    onnx_program.save(str(path))
    return path


def export_program(net: TransformerNet, path: str | Path) -> Path:
    """Write a `torch.export` program (.pt2) with the ONNX file's contract."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.export.save(_exported(net), str(path))
    return path


class _AdaINTransfer(torch.nn.Module):
    """Encoder + AdaIN + decoder as one graph: (content, style) images -> stylized content."""

    def __init__(self, model: AdaINModel, alpha: float) -> None:
        super().__init__()
        self.model, self.alpha = model, alpha

    def forward(self, content: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        return self.model(content, self.model.style_stats(style), self.alpha, border=BORDER)


def export_adain_onnx(model: AdaINModel, path: str | Path, alpha: float = 1.0) -> Path:
    """Write an ONNX model of the arbitrary-style model: "content" (1, 3, H, W) and "style"
    (1, 3, H', W'), RGB in [0, 1], -> "stylized" (1, 3, H, W).

    Both images' sides must be multiples of 8 (the encoder's three poolings), the content's at
    least 24 and the style's at least 16: pad other sizes by reflection and crop back, as
    `StyledAdaIN.pad` does. `alpha` is baked in; the reflected margin (`BORDER`) is in the graph.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    wrapper = _AdaINTransfer(model.float().eval(), alpha)
    stride = model.stride

    def side(name: str, low: int) -> torch.export.Dim:
        return stride * torch.export.Dim(name, min=low, max=16384 // stride)

    low = BORDER // stride + 1  # the margin is reflected: the content's sides must exceed it
    dims = {
        "content": {2: side("content_height", low), 3: side("content_width", low)},
        "style": {2: side("style_height", 2), 3: side("style_width", 2)},
    }
    example = (torch.rand(1, 3, 8 * stride, 10 * stride), torch.rand(1, 3, 6 * stride, 7 * stride))
    with torch.no_grad():
        program = torch.export.export(wrapper, example, dynamic_shapes=dims)
    onnx_program = torch.onnx.export(program, input_names=["content", "style"], output_names=["stylized"], dynamo=True)
    onnx_program.save(str(path))
    return path
