from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fst.checkpoint import CheckpointError
from fst.models.transformer import TransformerNet
from fst.stylize.loading import _EXAMPLES_NAMES, _EXAMPLES_RESIDUAL, load_stylizer


def to_examples_layout(net: TransformerNet) -> dict[str, torch.Tensor]:
    """Our weights in pytorch/examples' names and 0..255 convention (the inverse of the loader)."""
    ours_to_theirs = {v: k for k, v in _EXAMPLES_NAMES.items()}
    state = {}
    for key, value in net.state_dict().items():
        module, _, leaf = key.rpartition(".")
        if module.startswith("residuals."):
            _, index, rest = module.split(".", 2)
            theirs = {v: k for k, v in _EXAMPLES_RESIDUAL.items()}[rest]
            name = f"res{int(index) + 1}.{theirs}"
        else:
            name = ours_to_theirs[module]
        state[f"{name}.{leaf}"] = value.clone()
    state["conv1.conv2d.weight"] /= 255.0
    state["deconv3.conv2d.weight"] *= 255.0
    state["deconv3.conv2d.bias"] *= 255.0
    state["in1.running_mean"] = torch.zeros(8)  # legacy InstanceNorm buffers must be ignored
    state["in1.running_var"] = torch.ones(8)
    return state


def test_safetensors_roundtrip(tiny_checkpoint: Path, tiny_net: TransformerNet) -> None:
    net, metadata = load_stylizer(tiny_checkpoint)
    x = torch.rand(1, 3, 21, 30)
    assert metadata["name"] == "tiny"
    assert torch.equal(net(x), tiny_net(x))


def test_examples_pth_loads_and_matches(tmp_path: Path, tiny_net: TransformerNet) -> None:
    path = tmp_path / "udnie.pth"
    torch.save(to_examples_layout(tiny_net), path)
    net, metadata = load_stylizer(path)
    assert metadata["format"] == "pytorch-examples"
    assert metadata["architecture"]["channels"] == [8, 16, 32]
    x = torch.rand(1, 3, 24, 28)
    with torch.no_grad():
        torch.testing.assert_close(net(x), tiny_net(x), atol=1e-5, rtol=1e-4)


def test_lightning_ckpt_infers_architecture(tmp_path: Path, tiny_net: TransformerNet) -> None:
    state = {f"net._orig_mod.{k}": v for k, v in tiny_net.state_dict().items()}
    path = tmp_path / "last.ckpt"
    torch.save({"state_dict": state, "hyper_parameters": {"style_name": "wave"}, "global_step": 3}, path)
    net, metadata = load_stylizer(path)
    assert metadata["name"] == "wave"
    assert net.architecture()["num_residual_blocks"] == 2
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(net(x), tiny_net(x))


@pytest.mark.parametrize("damage", ["drop", "reshape", "not_weights", "missing"])
def test_mismatched_checkpoint_is_one_line(tmp_path: Path, tiny_net: TransformerNet, damage: str) -> None:
    state = dict(tiny_net.state_dict())
    path = tmp_path / "bad.pth"
    if damage == "drop":
        state.pop("residuals.1.body.2.bias")
    elif damage == "reshape":
        state["decoder.2.1.bias"] = torch.zeros(5)
    if damage == "not_weights":
        path.write_bytes(b"definitely not a checkpoint")
    elif damage != "missing":
        torch.save(state, path)
    with pytest.raises(CheckpointError) as caught:
        load_stylizer(path)
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and len(message) < 400
