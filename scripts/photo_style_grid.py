"""Luan et al. pairs with semantic masks, photorealism off vs on, side by side in one PNG.

    python scripts/photo_style_grid.py [--pairs 1 21 30] [--image-size 256] [--iterations 150]
        [--photorealism-weights 0 1e8] [--output outputs/photo_style_grid.png] [key=value ...]

Each cell is `python optimize.py preset=photorealistic` (loss, L-BFGS, paths from fst/conf/) on one
pair; trailing `key=value` arguments are further Hydra overrides. Columns: content | style | one
result per photorealism weight (0: semantic masks only). Every result and its losses JSON is also
written next to the grid (`<output stem>/in<N>_pr<weight>.png`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from hydra.utils import instantiate

from fst.config import compose_config
from fst.io.contact_sheet import label_grid, letterbox
from fst.io.images import load_rgb, save_image_atomic
from fst.optimize.pipeline import run


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, nargs="+", default=[1, 21, 30])
    parser.add_argument("--image-size", type=int, default=256)
    parser.add_argument("--iterations", type=int, default=150)
    parser.add_argument("--photorealism-weights", type=float, nargs="+", default=[0.0, 1e8])
    parser.add_argument("--output", default="outputs/photo_style_grid.png")
    parser.add_argument("--reuse", action="store_true", help="load results already written instead of rerunning")
    parser.add_argument("overrides", nargs="*", help="Hydra overrides of fst/conf/optimize.yaml")
    args = parser.parse_args()

    root = Path(compose_config("optimize").paths.assets) / "photo_style"
    out_dir = Path(args.output).with_suffix("")
    rows = []
    for pair in args.pairs:
        content, style = root / "input" / f"in{pair}.jpg", root / "style" / f"tar{pair}.jpg"
        row = [load_rgb(content), load_rgb(style)]
        for weight in args.photorealism_weights:
            done = out_dir / f"in{pair}_pr{weight:g}.png"
            if not (args.reuse and done.is_file()):
                cfg = compose_config(
                    "optimize",
                    [
                        "preset=photorealistic",
                        f"run.content={content}",
                        f"run.styles=[{style}]",
                        f"run.content_segmentation={root / 'segmentation' / f'in{pair}.png'}",
                        f"run.style_segmentations=[{root / 'segmentation' / f'tar{pair}.png'}]",
                        f"run.photorealism_weight={weight}",
                        f"run.image_size={args.image_size}",
                        f"run.iterations={args.iterations}",
                        f"run.output={done}",
                        "run.progress=false",
                        *args.overrides,
                    ],
                )
                job = instantiate(cfg.run, _convert_="all")
                _, history = run(job, instantiate(cfg.loss, _convert_="all"), instantiate(cfg.pixel_optimizer))
                terms = ", ".join(f"{k} {v:.4g}" for k, v in history[-1].items())
                print(f"pair {pair} photorealism {weight:g}: total {history[0]['total']:.4g} -> {terms}", flush=True)
            row.append(load_rgb(done))
        rows.append(row)
    # Cells share one size: each image letterboxed, uncropped, into an image_size square.
    cells = [[letterbox(image, args.image_size) for image in row] for row in rows]
    labels = ["content", "style"] + [f"photorealism {w:g}" if w else "masks only" for w in args.photorealism_weights]
    save_image_atomic(label_grid(cells, [f"pair {p}" for p in args.pairs], labels), args.output)
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()
