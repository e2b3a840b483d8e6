"""Summarise a training run's TensorBoard events: loss table, loss-curve PNG, logged image grids.

python scripts/tb_summary.py runs/starry_night/<id> [--out outputs/summary]
"""

from __future__ import annotations

import argparse
import io
from pathlib import Path

from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--out", type=Path, default=None, help="folder for loss_curves.png and grids")
    parser.add_argument("--rows", type=int, default=8, help="table rows")
    args = parser.parse_args()

    events = EventAccumulator(str(args.run_dir / "tensorboard"), size_guidance={"scalars": 0, "images": 0})
    events.Reload()
    tags = sorted(t for t in events.Tags()["scalars"] if t.startswith(("train/", "val/")))
    series = {t: [(e.step, e.value) for e in events.Scalars(t)] for t in tags}
    for tag, points in series.items():
        picks = points[:: max(1, len(points) // args.rows)] + ([points[-1]] if points else [])
        print(f"{tag:14s} " + "  ".join(f"{s}:{v:.3g}" for s, v in dict(picks).items()))
    if args.out is None:
        return
    args.out.mkdir(parents=True, exist_ok=True)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(1, 1, figsize=(8, 4.5))
    for tag in ("train/content", "train/style", "train/tv", "train/total"):
        if tag in series:
            steps, values = zip(*series[tag], strict=True)
            axes.plot(steps, values, label=tag)
    axes.set_yscale("log")
    axes.set_xlabel("step")
    axes.legend()
    figure.tight_layout()
    figure.savefig(args.out / "loss_curves.png", dpi=100)
    for tag in events.Tags()["images"]:
        for event in events.Images(tag)[-1:] + events.Images(tag)[:1]:
            name = f"{tag.replace('/', '_')}_step{event.step:06d}.png"
            Image.open(io.BytesIO(event.encoded_image_string)).save(args.out / name)
    print(f"wrote {args.out}/loss_curves.png and image grids")


if __name__ == "__main__":
    main()
