"""Shared fixtures: tiny images on disk, the shared assets when present."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fst.config import compose_config

# Where the project's configs say the assets and the VGG file are (fst/conf/paths/default.yaml).
_PATHS = compose_config("train").paths
ASSETS = Path(_PATHS.assets)
VGG_FILE = Path(_PATHS.vgg_weights)


def random_photo(width: int, height: int, seed: int = 0) -> Image.Image:
    """Smooth random colour image (photo-like gradients, not white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, size=(max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    return Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR)


@pytest.fixture
def photo_folder(tmp_path: Path) -> Path:
    """A nested folder of eight small photos (COCO-like flat + one sub-folder)."""
    root = tmp_path / "photos"
    (root / "sub").mkdir(parents=True)
    for i in range(8):
        folder = root / "sub" if i % 4 == 0 else root
        random_photo(48 + 4 * i, 40 + 2 * i, seed=i).save(folder / f"img_{i}.jpg", quality=90)
    return root


@pytest.fixture
def vgg_file() -> Path:
    if not VGG_FILE.is_file():
        pytest.skip(f"real VGG weights absent ({VGG_FILE}); set FST_ASSETS")
    return VGG_FILE


@pytest.fixture
def assets() -> Path:
    if not ASSETS.is_dir():
        pytest.skip(f"shared assets absent ({ASSETS}); set FST_ASSETS")
    return ASSETS


def tiny_adain(seed: int = 0, vgg_weights: str = "random"):
    """A small `AdaINModel` whose output varies with content and style (random weights alone give a
    near-constant image): He-initialised encoder, decoder output rescaled to spread around 0.5."""
    import torch

    from fst.models.adain import AdaINModel

    torch.manual_seed(seed)
    model = AdaINModel(vgg_weights, decoder_width=0.125).eval()
    with torch.no_grad():
        if vgg_weights == "random":  # He init keeps activations alive down to relu4_1 (torch's default fades)
            for conv in model.encoder.modules():
                if isinstance(conv, torch.nn.Conv2d):
                    torch.nn.init.kaiming_normal_(conv.weight, nonlinearity="relu")
                    conv.bias.zero_()
        # Zero biases make the decoder positively homogeneous: its output then follows the features
        # whatever their scale (the decoder's input scale would otherwise leave only its biases).
        for conv in model.decoder.modules():
            if isinstance(conv, torch.nn.Conv2d):
                conv.bias.zero_()
        probe = model.decoder(model.encode(torch.rand(1, 3, 48, 48))["relu4_1"])  # features at their real scale
        last = model.decoder.layers[-1][1]
        last.weight.mul_(0.25 / probe.std())
        last.bias.fill_(0.5)
    return model
