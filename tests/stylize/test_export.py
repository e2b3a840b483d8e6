from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from fst.models.transformer import TransformerNet
from fst.stylize.export import export_onnx, export_torchscript


def test_onnx_runtime_matches_pytorch_for_several_sizes(tmp_path: Path, tiny_net: TransformerNet) -> None:
    ort = pytest.importorskip("onnxruntime")
    session = ort.InferenceSession(str(export_onnx(tiny_net, tmp_path / "tiny.onnx")))
    for height, width in [(37, 53), (64, 64), (9, 10)]:
        image = torch.rand(2, 3, height, width)
        (onnx_out,) = session.run(None, {"image": image.numpy()})
        with torch.no_grad():
            expected = tiny_net(image).numpy()
        assert onnx_out.shape == expected.shape
        np.testing.assert_allclose(onnx_out, expected, atol=1e-4)


def test_torchscript_matches_pytorch(tmp_path: Path, tiny_net: TransformerNet) -> None:
    scripted = torch.jit.load(str(export_torchscript(tiny_net, tmp_path / "tiny.pt")))
    image = torch.rand(1, 3, 30, 41)
    with torch.no_grad():
        torch.testing.assert_close(scripted(image), tiny_net(image))
