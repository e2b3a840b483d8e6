"""Contact sheets: equally sized images in labelled rows and columns, for figures and evidence."""

from __future__ import annotations

from PIL import Image, ImageDraw


def letterbox(image: Image.Image, side: int) -> Image.Image:
    """`image` shrunk to fit a white `side` x `side` square, uncropped and centred."""
    box = Image.new("RGB", (side, side), "white")
    image = image.copy()
    image.thumbnail((side, side))
    box.paste(image, ((side - image.width) // 2, (side - image.height) // 2))
    return box


def label_grid(cells: list[list[Image.Image]], row_labels: list[str], col_labels: list[str]) -> Image.Image:
    """Paste equally sized images into rows x columns with a text margin on the top and left."""
    width, height = cells[0][0].size
    left, top = 110, 22
    grid = Image.new("RGB", (left + width * len(col_labels), top + height * len(row_labels)), "white")
    draw = ImageDraw.Draw(grid)
    for c, text in enumerate(col_labels):
        draw.text((left + c * width + 4, 4), text, fill="black")
    for r, text in enumerate(row_labels):
        draw.text((4, top + r * height + height // 2 - 6), text, fill="black")
        for c, cell in enumerate(cells[r]):
            grid.paste(cell, (left + c * width, top + r * height))
    return grid
