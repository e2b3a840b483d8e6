"""A photos x styles contact sheet from a stylize output folder (one subfolder per style).

    python scripts/contact_sheet.py PHOTOS OUT sheet.png [--styles NAME ...] [--cell 256] [--paintings DIR]
    python scripts/contact_sheet.py PHOTOS OUT sheet.png --styles teacher student --crop 384

Rows: photos; columns: the photo, then each style's output (and, with --paintings, a first row of
the paintings themselves), so a reader sees content and style side by side. Cells are whole
images shrunk into a square; with --crop, the same centre square of every image at 1:1 instead,
so strokes and edges can be compared pixel for pixel (two nets' outputs, side by side).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from fst.io.contact_sheet import label_grid, letterbox
from fst.io.images import load_rgb

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def output_for(style_dir: Path, photo: Path) -> Path | None:
    matches = sorted(p for p in style_dir.glob(f"{photo.stem}.*") if p.suffix.lower() in IMAGE_SUFFIXES)
    return matches[0] if matches else None


def centre_crop(image: Image.Image, side: int) -> Image.Image:
    """The centre `side` x `side` square at 1:1 (padded white where the image is smaller)."""
    left, top = max(0, (image.width - side) // 2), max(0, (image.height - side) // 2)
    return letterbox(image.crop((left, top, left + min(side, image.width), top + min(side, image.height))), side)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("photos", type=Path)
    p.add_argument("outputs", type=Path, help="stylize output folder: one subfolder per style")
    p.add_argument("sheet", type=Path)
    p.add_argument("--styles", nargs="+", help="columns, in order (default: every subfolder)")
    p.add_argument("--cell", type=int, default=256)
    p.add_argument("--paintings", type=Path, help="folder of <style>.jpg: adds a first row of paintings")
    p.add_argument("--crop", type=int, help="cells are the centre square of this side at 1:1, not the whole image")
    a = p.parse_args()
    cell = (lambda image: centre_crop(image, a.crop)) if a.crop else (lambda image: letterbox(image, a.cell))
    side = a.crop or a.cell
    styles = a.styles or sorted(d.name for d in a.outputs.iterdir() if d.is_dir())
    photos = sorted(f for f in a.photos.iterdir() if f.suffix.lower() in IMAGE_SUFFIXES)
    blank = Image.new("RGB", (side, side), "white")
    rows, labels = [], []
    if a.paintings:
        paintings = [a.paintings / f"{style.split('-')[0]}.jpg" for style in styles]
        rows.append([blank] + [letterbox(load_rgb(f), side) if f.is_file() else blank for f in paintings])
        labels.append("painting")
    for photo in photos:
        outputs = [output_for(a.outputs / style, photo) for style in styles]
        rows.append([cell(load_rgb(photo))] + [cell(load_rgb(f)) if f else blank for f in outputs])
        labels.append(photo.stem[:16])
    label_grid(rows, labels, ["photo", *[s[:28] for s in styles]]).save(a.sheet)
    print(f"{a.sheet}: {len(photos)} photos x {len(styles)} styles")


if __name__ == "__main__":
    main()
