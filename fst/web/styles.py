"""The styles the site offers: shipped checkpoints, and the arbitrary-style model when it ships.

The one adapter between the web service and the checkpoints folder: it lists `*.safetensors` files with
fst metadata (a style's name, its model card) and says whether the arbitrary-style model
(`adain.safetensors`, from the arbitrary-style issue) is present. Styles come from `fst.zoo`, so
every style of a multi-style file is offered by its own name.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from fst import zoo
from fst.checkpoint import read_metadata

ARBITRARY_STYLE_FILE = "adain.safetensors"
# A photo look's job "style": a reference photo's colours and light (`fst.photo`), no painting. Not
# a shipped style's name (those have no spaces), shown as "Photo look".
PHOTO_LOOK = "photo look"
GALLERY_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp")


@dataclass(frozen=True)
class Style:
    """A shipped style: `name` is what the API and the forms send."""

    name: str
    title: str
    checkpoint: Path
    painting: str  # the style image's file name, from the metadata ("" when unknown)


@lru_cache(maxsize=8)
def _scan(checkpoints_dir: Path, stamp: tuple[tuple[str, float], ...]) -> tuple[Style, ...]:
    # fst.zoo knows multi-style files; a name in several files is offered once, from the file
    # `stylize.py --style NAME` would pick (single-style files first, then the cheapest net).
    styles: dict[str, Style] = {}
    for shipped in zoo.shipped_styles(checkpoints_dir):
        if shipped.path.name == ARBITRARY_STYLE_FILE or shipped.name in styles:
            continue
        metadata = read_metadata(shipped.path)
        entries = metadata.get("styles") or [metadata.get("style") or {}]
        painting = next((str(e.get("file", "")) for e in entries if e.get("name") == shipped.name), "")
        styles[shipped.name] = Style(shipped.name, display_name(shipped.name), shipped.path, painting)
    return tuple(sorted(styles.values(), key=lambda style: style.name))


def shipped_styles(checkpoints_dir: Path) -> tuple[Style, ...]:
    """The shipped styles, sorted by name; re-read when a file is added, removed or replaced."""
    files = sorted(checkpoints_dir.glob("*.safetensors"))
    return _scan(checkpoints_dir, tuple((path.name, path.stat().st_mtime) for path in files))


def find_style(checkpoints_dir: Path, name: str) -> Style | None:
    return next((style for style in shipped_styles(checkpoints_dir) if style.name == name), None)


def arbitrary_style_checkpoint(checkpoints_dir: Path) -> Path | None:
    """The arbitrary-style (AdaIN) model's file, or None while it does not exist."""
    path = checkpoints_dir / ARBITRARY_STYLE_FILE
    return path if path.is_file() else None


def gallery_paintings(paintings_dir: Path | None) -> list[str]:
    """File names of the paintings users may pick as a style image (empty without the folder)."""
    if paintings_dir is None or not paintings_dir.is_dir():
        return []
    return sorted(p.name for p in paintings_dir.iterdir() if p.suffix.lower() in GALLERY_EXTENSIONS)


def gallery_painting(paintings_dir: Path | None, name: str) -> Path | None:
    """The painting's file if `name` is listed in the gallery; None otherwise (so no path reaches the disk)."""
    if paintings_dir is None or name not in gallery_paintings(paintings_dir):
        return None
    return paintings_dir / name


# Words a title keeps in lower case after its first word (articles, short prepositions, name particles).
_SMALL = "a an and at by de del der des di du for from in la le of on or over sur the to van von with"
SMALL_WORDS = frozenset(_SMALL.split())
ROMAN = re.compile(r"(?=[ivxlc])(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})|c{1,3}(xc|xl|l?x{0,3})(ix|iv|v?i{0,3})")


def _title_case(text: str) -> str:
    """`starry_night_over_the_rhone` -> "Starry Night over the Rhone"; roman numerals upper-case."""
    words = re.sub(r"[_\-\s]+", " ", text).strip().split(" ")

    def word(index: int, w: str) -> str:
        if ROMAN.fullmatch(w):
            return w.upper()
        return w if index and w in SMALL_WORDS else w[:1].upper() + w[1:]

    return " ".join(word(i, w) for i, w in enumerate(words))


def display_name(name: str) -> str:
    """How a style, painting or job's style is shown: `composition_vii` -> "Composition VII",
    `wassily_kandinsky__composition_vii` (a gallery painting, with or without its extension) ->
    "Composition VII, Wassily Kandinsky". Names already in words (`your image`) keep their case."""
    stem = re.sub(r"\.(jpe?g|png|webp)$", "", name, flags=re.IGNORECASE)
    if "_" not in stem:
        return stem[:1].upper() + stem[1:]
    painter, _, title = stem.rpartition("__")  # the gallery's names are painter__title
    return f"{_title_case(title)}, {_title_case(painter)}" if painter else _title_case(title)


def painting_title(name: str) -> str:
    """A painting's label from its file name: `claude_monet__water_lilies.jpg` -> "Water Lilies, Claude Monet"."""
    return display_name(name)
