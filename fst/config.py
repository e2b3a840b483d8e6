"""Hydra/OmegaConf helpers shared by the entry points: resolvers and instantiation."""

from __future__ import annotations

import os
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from fst import resources
from fst.checkpoint import styles_in
from fst.device import training_precision


def run_id() -> str:
    """One name for this run, the same in every process of a multi-process job.

    torchrun and SLURM start each rank on its own, so a timestamp per process could split one
    run across directories; their job ids are shared by all ranks. Lightning's own DDP launcher
    passes `hydra.run.dir` to its children, so a plain timestamp is safe there.
    """
    for variable in ("FST_RUN_ID", "SLURM_JOB_ID", "TORCHELASTIC_RUN_ID"):
        value = os.environ.get(variable)
        if value and value != "none":
            return value
    return time.strftime("%Y-%m-%d_%H-%M-%S")


def run_dir(ckpt_path: str | None, runs: str) -> str:
    """Where a run writes: a resumed run continues in the directory its checkpoint came from."""
    if ckpt_path:
        checkpoint = Path(ckpt_path)
        if checkpoint.parent.name == "checkpoints" and (checkpoint.parent.parent / ".hydra").is_dir():
            return str(checkpoint.parent.parent)
    return f"{runs}/{run_id()}"


def is_image_path(entry: str) -> bool:
    """A `styles` entry is a path to an image (named by its stem) or a name in `paths.styles`."""
    return "/" in entry or "." in entry


def style_names(entries: Sequence[str]) -> list[str]:
    """Style names of `styles` entries: a name stays, a path to an image is named by its stem."""
    return [Path(entry).stem if is_image_path(entry) else entry for entry in entries]


def grown_styles(base: str, new: Sequence[str]) -> list[str]:
    """The styles of exported file `base` followed by the `new` entries (experiment=add_style)."""
    return [*styles_in(Path(base)), *new]


def shipped_checkpoints() -> str:
    """`${checkpoints:}`: the shipped styles' folder (`fst.resources.checkpoints_dir()`)."""
    return str(resources.checkpoints_dir())


def file_styles(path: str) -> list[str]:
    """`${styles_in:PATH}`: the style names exported file `path` holds, in its net's order."""
    return styles_in(Path(path))


def assets() -> str:
    """`paths.assets`: `fst.resources.assets_dir()`, or the literal `$FST_ASSETS` when there is none,
    so that a missing file's error names the setting to make."""
    found = resources.assets_dir()
    return str(found) if found else "$FST_ASSETS"


def register_resolvers() -> None:
    if not OmegaConf.has_resolver("assets"):
        OmegaConf.register_new_resolver("assets", assets)
    if not OmegaConf.has_resolver("training_precision"):
        OmegaConf.register_new_resolver("training_precision", training_precision)
    if not OmegaConf.has_resolver("run_id"):
        OmegaConf.register_new_resolver("run_id", run_id, use_cache=True)
    if not OmegaConf.has_resolver("run_dir"):
        OmegaConf.register_new_resolver("run_dir", run_dir, use_cache=True)
    if not OmegaConf.has_resolver("style_names"):
        OmegaConf.register_new_resolver("style_names", style_names)
    if not OmegaConf.has_resolver("grown_styles"):
        OmegaConf.register_new_resolver("grown_styles", grown_styles)
    if not OmegaConf.has_resolver("styles_in"):
        OmegaConf.register_new_resolver("styles_in", file_styles)
    if not OmegaConf.has_resolver("checkpoints"):
        OmegaConf.register_new_resolver("checkpoints", shipped_checkpoints)


def compose_config(name: str, overrides: Sequence[str] = ()) -> DictConfig:
    """`fst/conf/<name>.yaml` composed with `overrides`, outside a `@hydra.main` run.

    For tools and tests that need the project's settings (asset paths, the VGG file, the Gatys loss,
    L-BFGS) without repeating them. `${hydra:...}` values (run directories) do not resolve here.
    """
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    register_resolvers()
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(resources.config_dir()), version_base="1.3"):
        return compose(name, overrides=list(overrides))


@contextmanager
def user_errors(*error_types: type[BaseException]) -> Iterator[None]:
    """Turn errors that mean "fix your input" into one line on stderr and exit status 2.

    Also when Hydra's instantiate wraps them: the chain of causes is searched. Anything else is a
    bug and keeps its traceback.
    """
    try:
        yield
    except Exception as error:
        cause: BaseException | None = error
        while cause is not None and not isinstance(cause, error_types):
            cause = cause.__cause__
        if cause is None:
            raise
        print(f"error: {cause}", file=sys.stderr)
        sys.exit(2)
