"""The shipped styles: which file in `fst.resources.checkpoints_dir()` holds which style, and style mixes by name.

A style is named by its metadata, not its file name: a single-style file holds one style, a
multi-style file (`fst.models.multistyle`) several. `--style starry_night=0.6,the_scream=0.4`
needs every named style in one multi-style file, since a mix blends that net's norm parameters.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from fst.checkpoint import CheckpointError, cost_of, read_metadata, styles_in
from fst.resources import checkpoints_dir

CHECKPOINT_DIR = checkpoints_dir()  # read once, at import: `$FST_CHECKPOINTS` or the shipped files

StyleMix = dict[str, float]


@dataclass(frozen=True)
class ShippedStyle:
    name: str
    path: Path
    styles_in_file: int  # 1 for a single-style file
    gflop_per_mpx: float = math.inf  # the net's cost; infinity where its file does not say


def shipped_styles(directory: Path = CHECKPOINT_DIR) -> list[ShippedStyle]:
    """Every style of every `.safetensors` file in `directory`: single-style files first, then by
    name; a style in several files of one kind, the cheapest net first (a distilled student before
    its full-width teacher)."""
    found = []
    for path in sorted(directory.glob("*.safetensors")):
        try:
            metadata = read_metadata(path)  # once: this runs on every stylize.py start-up
            names, cost = styles_in(path, metadata), cost_of(path, metadata)
        except CheckpointError:
            continue  # not an fst export (a stray file): not a shipped style
        found += [ShippedStyle(name, path, len(names), cost) for name in names]
    return sorted(found, key=lambda s: (s.styles_in_file > 1, s.name, s.gflop_per_mpx, s.path.name))


def parse_mix(spec: str) -> StyleMix:
    """`name` or `name=w,name=w` -> {name: weight}; one clear ValueError for anything else."""
    mix: StyleMix = {}
    for part in spec.split(","):
        name, _, weight = part.strip().partition("=")
        if not name:
            raise ValueError(f"style {spec!r}: empty style name")
        try:
            mix[name] = float(weight) if weight else 1.0
        except ValueError:
            raise ValueError(f"style {spec!r}: weight of {name!r} is not a number") from None
        if mix[name] < 0:
            raise ValueError(f"style {spec!r}: weight of {name!r} is negative")
    if sum(mix.values()) <= 0:
        raise ValueError(f"style {spec!r}: the weights sum to zero")
    return mix


def mix_name(mix: StyleMix) -> str:
    """A name for a mix's output folder: `udnie`, or `starry_night-60+the_scream-40`."""
    if len(mix) == 1:
        return next(iter(mix))
    total = sum(mix.values())
    return "+".join(f"{name}-{round(100 * weight / total)}" for name, weight in mix.items())


def find_style_file(mix: StyleMix, candidates: Iterable[ShippedStyle]) -> Path:
    """The file holding every style of `mix`: for one style a single-style file first (trained on it
    alone), for a mix the multi-style file that has them all; of several such, the cheapest net."""
    candidates = list(candidates)
    known = {s.name for s in candidates}
    unknown = [name for name in mix if name not in known]
    if unknown:
        raise ValueError(f"unknown style {unknown[0]!r}; known: {', '.join(sorted(known)) or 'none'}")
    holders: dict[Path, set[str]] = {}
    for style in candidates:
        holders.setdefault(style.path, set()).add(style.name)
    holding = [style for style in candidates if set(mix) <= holders[style.path]]
    if holding:
        return min(holding, key=lambda s: (s.styles_in_file > 1, s.gflop_per_mpx, s.path.name)).path
    raise ValueError(
        f"styles {', '.join(mix)} are not all in one file: a mix blends one multi-style net's styles "
        "(see --list-styles)"
    )


def plan_styles(checkpoints: list[Path], specs: list[str]) -> list[tuple[Path, StyleMix | None]]:
    """What to run: (file, mix) pairs; mix None means the file's only style.

    With `specs` (`--style`), each names a style or mix found in `checkpoints` when given, else in
    the shipped styles. Without, each checkpoint runs as is, and a multi-style file once per style.
    """
    if specs:
        candidates = _styles_of(checkpoints) if checkpoints else shipped_styles()
        plans: list[tuple[Path, StyleMix | None]] = []
        for spec in specs:
            mix = parse_mix(spec)
            plans.append((find_style_file(mix, candidates), mix))
        return plans
    plans = []
    for path in checkpoints:
        names = _names_or_none(path)
        plans += [(path, {name: 1.0}) for name in names] if names and len(names) > 1 else [(path, None)]
    return plans


def _names_or_none(path: Path) -> list[str] | None:
    """Style names of an fst export; None for other formats (.ckpt, .pth, bare state dicts)."""
    if path.suffix != ".safetensors" or not path.is_file():
        return None
    try:
        return styles_in(path)
    except CheckpointError:
        return None


def _styles_of(paths: list[Path]) -> list[ShippedStyle]:
    found = []
    for path in paths:
        names = _names_or_none(path) or [path.stem]
        found += [ShippedStyle(name, path, len(names)) for name in names]
    return sorted(found, key=lambda s: s.styles_in_file > 1)
