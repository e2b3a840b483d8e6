"""Where fst finds the files it ships and the assets it reads: one place, one setting each.

| what | setting | default |
| --- | --- | --- |
| exported styles and the AdaIN model | `FST_CHECKPOINTS` | `fst/checkpoints/`, installed with the package |
| Hydra configs | (Hydra's `--config-dir` adds a user's) | `fst/conf/`, installed with the package |
| demo photos | | `fst/demo/`, installed with the package |
| shared assets (VGG, paintings, photos) | `FST_ASSETS` | `../shared/assets` beside a source checkout, else none |

What ships is package data (`[tool.setuptools.package-data]` in pyproject.toml), so the same
paths hold in a checkout, an editable install and a wheel. Nothing else in fst computes a path
from `__file__`.
"""

from __future__ import annotations

import os
from pathlib import Path

_PACKAGE = Path(__file__).resolve().parent
_SOURCE_ROOT = _PACKAGE.parent  # a source checkout's root when fst runs from one (else site-packages)


def checkpoints_dir() -> Path:
    """The shipped exported files (`*.safetensors` + model cards), or `$FST_CHECKPOINTS`."""
    override = os.environ.get("FST_CHECKPOINTS")
    return Path(override) if override else _PACKAGE / "checkpoints"


def config_dir() -> Path:
    """Hydra's config directory (`train.yaml`, `optimize.yaml` and their groups)."""
    return _PACKAGE / "conf"


def demo_dir() -> Path:
    """The demo photos (public domain / CC0, see their README)."""
    return _PACKAGE / "demo"


def assets_dir() -> Path | None:
    """`$FST_ASSETS`, else `../shared/assets` beside a source checkout, else None (not installed)."""
    override = os.environ.get("FST_ASSETS")
    if override:
        return Path(override)
    # Only a checkout has a pyproject.toml beside the package: an installed fst never guesses.
    if not (_SOURCE_ROOT / "pyproject.toml").is_file():
        return None
    beside = _SOURCE_ROOT.parent / "shared" / "assets"
    return beside if beside.is_dir() else None
