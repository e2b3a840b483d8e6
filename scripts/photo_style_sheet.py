"""Contact sheet of `--photo-style` on Luan et al.'s pairs:
photo | reference | Reinhard | optimisation | fst | fst + masks.

    python scripts/photo_style_sheet.py [--pairs 1 3 ...] [--cell 300] [--optimised DIR]
        [--out docs/figures/photo_style_sheet.jpg]

`--optimised DIR` holds `optimize.py preset=photorealistic_two_pass` results named `in<N>.png`
(they take minutes a pair on a CPU, so only some pairs have one: the others get an empty cell).

Reinhard is the judge's floor (each Lab channel's mean and standard deviation, whole image); the
fst columns run `fst.photo.transfer.PhotoLook` with its defaults, without and with the pair's masks.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch
from PIL import Image

from fst.io.contact_sheet import label_grid, letterbox
from fst.io.images import load_rgb, pil_to_tensor, save_image_atomic, tensor_to_pil
from fst.photo.colour import reinhard
from fst.photo.lab import lab_to_rgb, rgb_to_lab
from fst.photo.transfer import PhotoLook

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets" / "photo_style"


def reinhard_image(photo: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(3, H, W) photo with the reference's Lab means and standard deviations."""
    lab, reference_lab = rgb_to_lab(photo[None]), rgb_to_lab(reference[None])
    moved = reinhard(lab[0].flatten(1).T, reference_lab[0].flatten(1).T)
    return lab_to_rgb(moved.T.reshape(lab.shape))[0]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--assets", type=Path, default=ASSETS)
    parser.add_argument("--pairs", type=int, nargs="+", default=[1, 3, 5, 9, 14, 21, 30, 39, 45, 51])
    parser.add_argument("--cell", type=int, default=300)
    parser.add_argument("--optimised", type=Path, help="folder of optimisation results, in<N>.png")
    parser.add_argument("--quality", type=int, default=85)
    parser.add_argument("--out", type=Path, default=Path("docs/figures/photo_style_sheet.jpg"))
    args = parser.parse_args()
    rows, labels = [], []
    for number in args.pairs:
        photo_path = args.assets / "input" / f"in{number}.jpg"
        reference_path = args.assets / "style" / f"tar{number}.jpg"
        photo, reference = load_rgb(photo_path), load_rgb(reference_path)
        look = PhotoLook.from_file(reference_path)
        segmentation = args.assets / "segmentation"
        regions = look.region_masks(
            (photo.height, photo.width), segmentation / f"in{number}.png", segmentation / f"tar{number}.png"
        )
        optimised = args.optimised / f"in{number}.png" if args.optimised else None
        outputs = [
            tensor_to_pil(reinhard_image(pil_to_tensor(photo), pil_to_tensor(reference))),
            load_rgb(optimised) if optimised and optimised.is_file() else Image.new("RGB", photo.size, "lightgrey"),
            tensor_to_pil(look(photo).float() / 255),
            tensor_to_pil(look(photo, regions).float() / 255),
        ]
        rows.append([letterbox(image, args.cell) for image in (photo, reference, *outputs)])
        labels.append(f"pair {number}")
    columns = ["photo", "reference", "Reinhard (global Lab)", "optimisation, 2 passes", "fst", "fst --masks"]
    args.out.parent.mkdir(parents=True, exist_ok=True)
    save_image_atomic(label_grid(rows, labels, columns), args.out, quality=args.quality)
    print(args.out)


if __name__ == "__main__":
    main()
