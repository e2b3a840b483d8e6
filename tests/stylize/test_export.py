from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest
import torch

from fst.models.transformer import TransformerNet
from fst.stylize.export import export_onnx, export_program

SIZES = [(36, 52), (64, 64), (8, 12), (256, 132)]  # multiples of the stride, the smallest, large


def test_onnx_runtime_matches_pytorch_for_any_batch_and_size(
    tmp_path: Path, tiny_net_any_layout: TransformerNet
) -> None:
    tiny_net = tiny_net_any_layout
    ort = pytest.importorskip("onnxruntime")
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated exporter path
        path = export_onnx(tiny_net, tmp_path / "tiny.onnx")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    for batch, (height, width) in zip([1, 3, 2, 1], SIZES, strict=True):
        image = torch.rand(batch, 3, height, width)
        (onnx_out,) = session.run(None, {"image": image.numpy()})
        with torch.no_grad():
            expected = tiny_net(image).numpy()
        assert onnx_out.shape == expected.shape
        np.testing.assert_allclose(onnx_out, expected, atol=1e-3, rtol=0)


def test_export_program_round_trips(tmp_path: Path, tiny_net_any_layout: TransformerNet) -> None:
    tiny_net = tiny_net_any_layout
    loaded = torch.export.load(str(export_program(tiny_net, tmp_path / "tiny.pt2"))).module()
    for height, width in SIZES:
        image = torch.rand(2, 3, height, width)
        with torch.no_grad():
            torch.testing.assert_close(loaded(image), tiny_net(image), atol=1e-5, rtol=0)


def test_exported_files_take_other_sizes_through_the_nets_pad(
    tmp_path: Path, tiny_net_any_layout: TransformerNet
) -> None:
    tiny_net = tiny_net_any_layout
    # The documented recipe for sizes off the stride: pad by reflection, run, crop back.
    loaded = torch.export.load(str(export_program(tiny_net, tmp_path / "tiny.pt2"))).module()
    image = torch.rand(1, 3, 37, 53)
    with torch.no_grad():
        cropped = loaded(tiny_net.pad(image))[..., :37, :53]
        torch.testing.assert_close(cropped, tiny_net(image), atol=1e-5, rtol=0)


def shipped_style_files() -> list[Path]:
    from fst.resources import checkpoints_dir

    return sorted(p for p in checkpoints_dir().glob("*.safetensors") if p.name != "adain.safetensors")


@pytest.mark.parametrize("checkpoint", shipped_style_files(), ids=lambda path: path.stem)
def test_every_shipped_style_file_exports_to_onnx_and_pt2(tmp_path: Path, checkpoint: Path) -> None:
    # A cheaper shipped net (issue 22's half width) must serve the exports unchanged, like the full one.
    ort = pytest.importorskip("onnxruntime")
    from fst.checkpoint import styles_in
    from fst.stylize.loading import load_stylizer

    net, _ = load_stylizer(checkpoint, style={styles_in(checkpoint)[-1]: 1.0})
    image = torch.rand(1, 3, 48, 64)
    with torch.no_grad():
        expected = net(image)
    session = ort.InferenceSession(str(export_onnx(net, tmp_path / "net.onnx")), providers=["CPUExecutionProvider"])
    (onnx_out,) = session.run(None, {"image": image.numpy()})
    np.testing.assert_allclose(onnx_out, expected.numpy(), atol=1e-3, rtol=0)
    loaded = torch.export.load(str(export_program(net, tmp_path / "net.pt2"))).module()
    with torch.no_grad():
        torch.testing.assert_close(loaded(image), expected, atol=1e-4, rtol=0)
