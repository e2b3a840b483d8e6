"""Judge `--photo-style` on the pairs of `shared/assets/photo_style`, one reference per pair.

`photo_judge.py` takes one reference per folder; Luan's pairs each have their own, so this runs its
measures pair by pair (importing the judge from its path, never copying it) and prints the medians
of colour_ratio, ssim and grain per method, with and without masks, beside the judge's Reinhard.

usage: python scripts/judge_photo_style.py [--pairs 1-60] [--methods sliced network] [--masks both]
           [--luminance auto|SHARE] [--structure-floor 0.8]
           [--out outputs/photo_judge] [--judge ../shared/tools/photo_judge.py]
Outputs are kept (OUT/<method>[-masks]/in<N>.png) for contact sheets; per-pair rows go to a CSV there.

The judge's colour_ratio compares the whole output's colours with the whole reference's. With masks
each region is meant to take its own region's colours, so the script also gives `region_colour`:
the same distance taken region by region (the pair's matched masks: photo region against the
reference's region of the same colour), each region's ratio weighted by its share of the photo.
Lower is closer; 1.0 is the photo's own colours.
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import statistics
import sys
import time
from pathlib import Path

from fst.io.images import read_image, save_image_atomic
from fst.optimize.masks import RegionMasks, load_region_masks
from fst.photo.transfer import STRUCTURE_FLOOR, PhotoLook

ASSETS = Path(__file__).resolve().parents[1].parent / "shared" / "assets" / "photo_style"


def load_judge(path: Path):
    spec = importlib.util.spec_from_file_location("photo_judge", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def pair_numbers(spec: str) -> list[int]:
    numbers: list[int] = []
    for part in spec.split(","):
        low, _, high = part.partition("-")
        numbers += list(range(int(low), int(high or low) + 1))
    return numbers


def region_colour(judge, output, photo, ref_lab, regions: RegionMasks | None) -> float:
    """Area-weighted mean over matched regions of the judge's colour distance, output's region to
    the reference's region, over the photo's region's; NaN without masks."""
    if regions is None:
        return float("nan")
    output_lab, photo_lab = judge.to_lab(output), judge.to_lab(photo)
    total = weighted = 0.0
    for content, style in zip(regions.content[:, 0].bool(), regions.style[:, 0].bool(), strict=True):
        if content.float().mean() < 0.01 or style.float().mean() < 0.01:
            continue  # a sliver: too few pixels for a distribution
        base = judge.swd(photo_lab[:, content], ref_lab[:, style])
        area = float(content.float().mean())
        weighted += area * judge.swd(output_lab[:, content], ref_lab[:, style]) / max(base, 1e-6)
        total += area
    return weighted / total if total else float("nan")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--assets", type=Path, default=ASSETS)
    parser.add_argument("--judge", type=Path, default=ASSETS.parents[1] / "tools" / "photo_judge.py")
    parser.add_argument("--pairs", default="1-60")
    parser.add_argument("--methods", nargs="+", default=["sliced", "network"])
    parser.add_argument("--masks", choices=["no", "yes", "both"], default="both")
    parser.add_argument("--radius", type=int, default=8)
    parser.add_argument("--eps", type=float, default=1e-2)
    parser.add_argument("--work-size", type=int, default=512)
    parser.add_argument("--luminance", default="auto", help="share 0..1, or auto (the structure floor's)")
    parser.add_argument("--structure-floor", type=float, default=STRUCTURE_FLOOR)
    parser.add_argument("--out", type=Path, default=Path("outputs/photo_judge"))
    args = parser.parse_args()
    judge = load_judge(args.judge)
    model = None
    if "network" in args.methods:
        from fst.checkpoint import load_adain
        from fst.stylize.arbitrary import DEFAULT_MODEL

        model = load_adain(DEFAULT_MODEL)[0]
    mask_modes = {"no": [False], "yes": [True], "both": [False, True]}[args.masks]
    rows: dict[str, list[dict]] = {}
    for number in pair_numbers(args.pairs):
        photo_path = args.assets / "input" / f"in{number}.jpg"
        reference_path = args.assets / "style" / f"tar{number}.jpg"
        photo_image = read_image(photo_path).rgb
        ref_lab = judge.to_lab(judge.load(reference_path))
        photo = judge.load(photo_path)
        size = (photo.shape[2], photo.shape[1])
        base = judge.swd(judge.to_lab(photo), ref_lab)
        segmentation = args.assets / "segmentation"
        judged_regions = load_region_masks(
            segmentation / f"in{number}.png",
            segmentation / f"tar{number}.png",
            tuple(photo.shape[1:]),
            tuple(ref_lab.shape[1:]),
        )
        reinhard_output = judge.reinhard(judge.to_lab(photo), ref_lab)
        reinhard = judge.scores(reinhard_output, photo, ref_lab, base)
        reinhard["region_colour"] = region_colour(judge, reinhard_output, photo, ref_lab, judged_regions)
        rows.setdefault("reinhard (judge)", []).append({**reinhard, "pair": number})
        for method in args.methods:
            look = PhotoLook.from_file(
                reference_path,
                method=method,
                radius=args.radius,
                eps=args.eps,
                work_size=args.work_size,
                model=model,
                luminance=None if args.luminance == "auto" else float(args.luminance),
                structure_floor=args.structure_floor,
            )
            for masked in mask_modes:
                name = f"{method}{'-masks' if masked else ''}"
                regions = None
                start = time.perf_counter()
                if masked:
                    regions = look.region_masks(
                        (photo_image.height, photo_image.width),
                        segmentation / f"in{number}.png",
                        segmentation / f"tar{number}.png",
                    )
                stylized = look(photo_image, regions)
                seconds = time.perf_counter() - start
                target = args.out / name / f"in{number}.png"
                target.parent.mkdir(parents=True, exist_ok=True)
                from fst.io.images import tensor_to_pil

                save_image_atomic(tensor_to_pil(stylized.float() / 255), target, png_compression=1)
                output = judge.load(target, size)
                row = judge.scores(output, photo, ref_lab, base)
                row["region_colour"] = region_colour(judge, output, photo, ref_lab, judged_regions)
                rows.setdefault(name, []).append({**row, "pair": number, "seconds": seconds})
        print(f"pair {number} done", file=sys.stderr)
    args.out.mkdir(parents=True, exist_ok=True)
    with (args.out / "pairs.csv").open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["method", "pair", "colour_ratio", "ssim", "grain", "region_colour"])
        for name, measured in rows.items():
            for row in measured:
                measures = (row[k] for k in ("colour_ratio", "ssim", "grain", "region_colour"))
                writer.writerow([name, row["pair"], *measures])
    print(
        "| method | pairs | colour_ratio | ssim | grain | colour <= Reinhard's | region_colour | "
        "region_colour <= Reinhard's | s per pair |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- |")
    reinhard = rows["reinhard (judge)"]
    for name, measured in rows.items():
        medians = {
            k: statistics.median(r[k] for r in measured) for k in ("colour_ratio", "ssim", "grain", "region_colour")
        }
        beats = sum(r["colour_ratio"] <= b["colour_ratio"] for r, b in zip(measured, reinhard, strict=True))
        region_beats = sum(r["region_colour"] <= b["region_colour"] for r, b in zip(measured, reinhard, strict=True))
        seconds = statistics.median(r["seconds"] for r in measured) if "seconds" in measured[0] else float("nan")
        print(
            f"| {name} | {len(measured)} | {medians['colour_ratio']:.3f} | {medians['ssim']:.3f} | "
            f"{medians['grain']:.3f} | {beats}/{len(measured)} | {medians['region_colour']:.3f} | "
            f"{region_beats}/{len(measured)} | {seconds:.2f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
