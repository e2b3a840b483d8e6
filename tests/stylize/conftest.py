"""Tiny nets and image files for the stylize tests (CPU, seconds)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fst.checkpoint import export
from fst.models.transformer import TransformerNet


@pytest.fixture
def tiny_net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(channels=(8, 16, 32), num_residual_blocks=2).eval()


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_net: TransformerNet) -> Path:
    return export(tiny_net, tmp_path / "ckpt" / "tiny.safetensors", {"style": {"name": "tiny"}})
