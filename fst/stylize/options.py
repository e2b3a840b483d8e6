"""Everything one stylize run is told: filled by `stylize.py`, read by the pipeline and the stylizer."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

Precision = Literal["auto", "fp32", "bf16", "fp16"]


@dataclass
class StylizeOptions:
    """Everything one run needs; `stylize.py` fills it from the command line."""

    inputs: str
    out_dir: Path
    checkpoints: list[Path]  # empty: the shipped styles (with `styles`)
    styles: list[str] = field(default_factory=list)  # --style specs: `name` or `name=w,name=w`
    format: str | None = None  # None keeps each input's format; "jpg", "png" or "webp" forces one
    quality: int = 92  # JPEG and WebP
    # PNG zlib level: 1 writes 5x faster than PIL's default 6 (0.07 against 0.32 s for a 1024 px
    # photo on this CPU, where encoding competes with the net for the cores), files 18% larger.
    png_compression: int = 1
    device: str = "auto"
    precision: Precision = "auto"  # bf16 on CUDA and on CPUs with bf16 instructions, else fp32
    channels_last: bool = True
    # auto: use the compiled package when it is cached; build it (once per machine, 43-60 s here)
    # when the job plans at least `compile_min_images` whole images of `compile_min_mpx` megapixels
    # in all, so a one-off image, or the four small demo photos, never wait for it.
    compile: Literal["auto", "on", "off"] = "auto"
    compile_min_images: int = 2
    compile_min_mpx: float = 2.0
    batch_size: int = 0  # 0: 1 on CPU (batching measured slower at 512 and 1024 px), 4 on CUDA
    workers: int = 2
    overwrite: bool = False
    strength: float = 1.0
    preserve_color: bool = False
    content_scale: float = 1.0
    max_pixels: int = 6_000_000  # larger images are tiled (about 2 GiB of activations on CPU)
    tile_size: int = 1024
    overlap: int = 128
    output_head: str = "clamp"
    progress: bool = True
    # Any image as a style (`fst.stylize.arbitrary`, the AdaIN model of `checkpoints`, default the shipped one).
    style_images: list[Path] = field(default_factory=list)
    style_weights: list[float] | None = None  # one per style image; None: equal
    alpha: float = 1.0  # content-style trade-off in feature space, 0..1
    style_size: int = 512  # long side the style images are encoded at
    wct: float = 0.7  # share of the whitening-colouring (WCT) target mixed into AdaIN's, 0..1 (0: AdaIN)
