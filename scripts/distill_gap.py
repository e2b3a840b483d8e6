"""How far a distilled student's outputs are from its teacher's, per style and VGG layer: a quick
proxy (minutes) for the 12-minute judge while a student trains.

    python scripts/distill_gap.py OUT -c STUDENT [--teacher FILE] [--photos P ...] [--style NAME ...]

Stylizes the photos at their own size with default flags, but eager rather than building a
package per file: the teacher's outputs once into OUT/teacher (reused), the student's into
OUT/student. Prints the relative Gram error |G(student) - G(teacher)|^2 / |G(teacher)|^2 per
layer (0: the teacher's texture; 1: none of it). It measures the gap to the teacher, not to the
painting: the judge's bars are met by the teacher, so a small gap means the student meets them
too. Default styles: every style of the teacher; VGG weights: `$FST_VGG_WEIGHTS` or the assets'.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
from pathlib import Path

import torch

from fst.checkpoint import styles_in
from fst.io.images import load_tensor
from fst.losses.terms import relative_gram_error
from fst.models.vgg import VGGFeatures
from fst.resources import assets_dir, checkpoints_dir
from fst.stylize.pipeline import StylizeOptions, run

ASSETS = assets_dir() or Path(__file__).resolve().parents[2] / "shared" / "assets"
VGG_WEIGHTS = os.environ.get("FST_VGG_WEIGHTS", str(ASSETS / "vgg" / "vgg19_caffe_features_fp16.safetensors"))
PHOTOS = [ASSETS / "content" / name for name in ("amber.jpg", "brad_pitt.jpg", "tubingen.jpg")]
LAYERS = ("relu2_1", "relu4_1", "relu5_1")


def gather(photos: list[Path], into: Path) -> Path:
    """Links to the photos in one folder: stylize takes one input (a folder, file or glob)."""
    into.mkdir(parents=True, exist_ok=True)
    for photo in photos:
        link = into / photo.name
        if not link.exists():
            link.symlink_to(photo.resolve())
    return into


def stylize(photos: Path, out: Path, checkpoint: Path, styles: list[str]) -> None:
    count = len(list(photos.iterdir()))
    for style in styles:
        if (out / style).is_dir() and len(list((out / style).glob("*.png"))) == count:
            continue  # made already (the teacher's, on a later call)
        options = StylizeOptions.create(str(photos), out / style, [checkpoint], styles=[style], format="png",
                                        progress=False, compile="off")  # fmt: skip
        if run(options):
            raise SystemExit(f"stylizing {style} with {checkpoint} failed")


@torch.inference_mode()
def gaps(vgg: VGGFeatures, student: Path, teacher: Path) -> dict[str, float]:
    """Median over photos of each layer's relative Gram error of student's output to teacher's."""
    per_layer: dict[str, list[float]] = {layer: [] for layer in LAYERS}
    for theirs in sorted(teacher.glob("*.png")):
        ours = vgg(load_tensor(student / theirs.name).unsqueeze(0), LAYERS)
        target = vgg(load_tensor(theirs).unsqueeze(0), LAYERS)
        for layer in LAYERS:
            per_layer[layer].append(relative_gram_error(ours[layer], target[layer]).item())
    return {layer: round(statistics.median(values), 3) for layer, values in per_layer.items()}


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("-c", "--checkpoint", type=Path, required=True, help="the student's export")
    p.add_argument("--teacher", type=Path, default=checkpoints_dir() / "six_paintings.safetensors")
    p.add_argument("--photos", type=Path, nargs="+", default=PHOTOS)
    p.add_argument("--style", nargs="+", help="default: every style the teacher holds")
    a = p.parse_args()
    a.style = a.style or styles_in(a.teacher)
    photos = gather(a.photos, a.out / "photos")
    stylize(photos, a.out / "teacher", a.teacher, a.style)
    shutil.rmtree(a.out / "student", ignore_errors=True)  # stylize keeps outputs that exist: a fresh folder
    stylize(photos, a.out / "student", a.checkpoint, a.style)
    vgg = VGGFeatures(weights=VGG_WEIGHTS, input_convention="caffe", last_layer="relu5_1")
    print(f"| style | {' | '.join(LAYERS)} |\n| --- |" + " --- |" * len(LAYERS))
    for style in a.style:
        row = gaps(vgg, a.out / "student" / style, a.out / "teacher" / style)
        print(f"| {style} | {' | '.join(str(row[layer]) for layer in LAYERS)} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
