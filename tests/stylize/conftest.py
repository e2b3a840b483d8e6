"""Tiny nets and image files for the stylize tests (CPU, seconds)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

from fst.checkpoint import export
from fst.models.transformer import TransformerNet


@pytest.fixture(scope="session", autouse=True)
def compiled_cache(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """One compiled-package cache for the session (subprocesses inherit it): the tiny net's package
    is built once, and the user's own cache is never touched."""
    folder = tmp_path_factory.mktemp("compiled_cache")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("FST_CACHE_DIR", str(folder))
        yield folder


@pytest.fixture
def tiny_net() -> TransformerNet:
    torch.manual_seed(0)
    return TransformerNet(channels=(8, 16, 32), num_residual_blocks=2).eval()


@pytest.fixture(params=["johnson", "space_to_depth"])
def tiny_net_any_layout(request: pytest.FixtureRequest) -> TransformerNet:
    """A tiny net of each layout: the three-width one and the one with nothing at full resolution."""
    torch.manual_seed(0)
    if request.param == "johnson":
        return TransformerNet(channels=(8, 16, 32), num_residual_blocks=2).eval()
    return TransformerNet(channels=(16, 32), num_residual_blocks=2, space_to_depth=True).eval()


@pytest.fixture
def tiny_checkpoint(tmp_path: Path, tiny_net: TransformerNet) -> Path:
    return export(tiny_net, tmp_path / "ckpt" / "tiny.safetensors", {"style": {"name": "tiny"}})
