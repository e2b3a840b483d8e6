"""Pack (here) and unpack (on the GPU machine) what a GPU training run needs, within 64 MiB.

    python scripts/gpu_data.py pack [--into .gpu] [--photos N]
    python scripts/gpu_data.py unpack [--into .gpu]

`pack` writes into a git-ignored folder: the Caffe VGG-19 cut after conv5_1 (the last layer any
fst loss reads: relu5_1; 26 of its 40 MB), the six paintings, the training photos of `train_256/` (256-px short side)
and the wheels of the Hydra packages the GPU image lacks. `unpack` restores the full VGG layout
(the cut layers as zeros: never reached by the losses) so `VGGFeatures` loads it unchanged.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fst.resources import assets_dir

LAST_KEPT_CONV = 28  # features.28 = conv5_1 of VGG-19
CUT_VGG = "vgg19_to_conv5_1_fp16.safetensors"
FULL_VGG = "vgg19_caffe_features_fp16.safetensors"
# The GPU image has torch, lightning, tensorboard and safetensors; Hydra and its two needs travel.
WHEELS = ["hydra-core==1.3.2", "omegaconf==2.3.0", "antlr4-python3-runtime==4.9.3"]
# VGG-19's conv layers after conv5_1, with their shapes (weight, bias).
CUT_LAYERS = {30: (512, 512), 32: (512, 512), 34: (512, 512)}


def layer_index(key: str) -> int:
    return int(key.split(".")[1])


def pack(into: Path, photos: int | None) -> None:
    assets = assets_dir()
    if assets is None:
        raise SystemExit("no shared assets: set FST_ASSETS")
    into.mkdir(parents=True, exist_ok=True)
    state = load_file(str(assets / "vgg" / FULL_VGG))
    save_file({k: v for k, v in state.items() if layer_index(k) <= LAST_KEPT_CONV}, str(into / CUT_VGG))
    train = into / "train_256"
    shutil.rmtree(train, ignore_errors=True)
    train.mkdir()
    sources = sorted(p for p in (assets / "train_256").iterdir() if p.suffix.lower() in {".webp", ".jpg", ".png"})
    for source in sources[:photos]:
        shutil.copy2(source, train / source.name)
    styles = into / "styles"  # the paintings the six-style net is trained on
    shutil.rmtree(styles, ignore_errors=True)
    shutil.copytree(assets / "styles", styles, ignore=shutil.ignore_patterns("*.md"))
    wheels = into / "wheels"
    wheels.mkdir(exist_ok=True)
    # `pip wheel` also builds antlr4's pure-Python wheel from its sdist (PyPI has no wheel of 4.9.3).
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(wheels), *WHEELS], check=True)
    size = sum(p.stat().st_size for p in into.rglob("*") if p.is_file())
    count = len(sources[:photos])
    print(f"packed {into}: {count} photos, VGG to conv5_1, {len(WHEELS)} wheels, {size / 2**20:.1f} MiB")


def unpack(into: Path) -> Path:
    """The full-layout VGG file (cut layers zero), written once beside the cut one."""
    full = into / FULL_VGG
    if not full.exists():
        state = load_file(str(into / CUT_VGG))
        for index, (out_channels, in_channels) in CUT_LAYERS.items():
            state[f"features.{index}.weight"] = torch.zeros(out_channels, in_channels, 3, 3, dtype=torch.float16)
            state[f"features.{index}.bias"] = torch.zeros(out_channels, dtype=torch.float16)
        save_file(state, str(full))
    print(full)
    return full


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("action", choices=["pack", "unpack"])
    p.add_argument("--into", type=Path, default=Path(".gpu"))
    p.add_argument("--photos", type=int, default=None, help="pack only the first N training photos")
    a = p.parse_args()
    if a.action == "pack":
        pack(a.into, a.photos)
    else:
        unpack(a.into)
    return 0


if __name__ == "__main__":
    sys.exit(main())
