"""The AdaIN Lightning module's warm start (`module.init_from`)."""

from __future__ import annotations

from functools import partial
from pathlib import Path

import pytest
import torch

from fst.checkpoint import export
from fst.losses.adain import AdaINLoss
from fst.models.adain import AdaINModel
from fst.training.adain_module import AdaINModule
from tests.conftest import tiny_adain


def test_init_from_starts_the_decoder_from_an_exported_file(tmp_path: Path) -> None:
    source = tiny_adain(seed=5)
    path = export(source, tmp_path / "adain.safetensors")
    net = tiny_adain(seed=6)
    encoder_before = {k: v.clone() for k, v in net.encoder.state_dict().items()}
    assert not torch.equal(net.decoder.layers[0][1].weight, source.decoder.layers[0][1].weight)
    module = AdaINModule(net, AdaINLoss(), partial(torch.optim.Adam, lr=1e-3), init_from=str(path))
    for name, value in source.decoder.state_dict().items():
        assert torch.equal(module.net.decoder.state_dict()[name], value), name
    for name, value in module.net.encoder.state_dict().items():  # the encoder is the VGG's, not the file's
        assert torch.equal(value, encoder_before[name]), name


def test_init_from_refuses_another_decoder_architecture(tmp_path: Path) -> None:
    path = export(tiny_adain(seed=5), tmp_path / "adain.safetensors")
    with pytest.raises(ValueError, match="differs"):
        AdaINModule(AdaINModel(decoder_width=0.25), AdaINLoss(), partial(torch.optim.Adam), init_from=str(path))
