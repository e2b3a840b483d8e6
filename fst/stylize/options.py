"""Everything one stylize run is told, grouped by concern; each default is written once, here.

`stylize.py` reads its flags' defaults from these classes, the pipeline and the stylizer read the
groups they need, and `StylizeOptions.create` builds a run from flat field names (scripts, tests).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

Precision = Literal["auto", "fp32", "bf16", "fp16"]
CompileMode = Literal["auto", "on", "off"]
Engine = Literal["local", "ray"]
PhotoMethod = Literal["sliced", "covariance", "reinhard", "network"]


class OptionError(ValueError):
    """A bad option value. The message names options by field (`alpha must be in [0, 1]`); a front
    end renames them with `named` (`--alpha must be in [0, 1]`).

    Args:
        template: the message, with one `{}` per option named in `options`.
    """

    def __init__(self, template: str, *options: str) -> None:
        self.template, self.options = template, options
        super().__init__(self.named({}))

    def named(self, names: Mapping[str, str]) -> str:
        """The message with each option called by `names` (field -> name), else by its field."""
        return self.template.format(*(names.get(option, option) for option in self.options))


def check_share(option: str, value: float) -> None:
    """A share or trade-off in [0, 1]."""
    if not 0.0 <= value <= 1.0:
        raise OptionError(f"{{}} must be in [0, 1], got {value}", option)


@dataclass
class StyleChoice:
    """Which style: trained style nets (`checkpoints`, `styles`) or any image (`style_images`)."""

    checkpoints: list[Path] = field(default_factory=list)  # empty: the shipped styles (with `styles`)
    styles: list[str] = field(default_factory=list)  # `name` or `name=w,name=w` (a mix)
    output_head: str = "clamp"  # for .ckpt/.pth files, which do not record it
    # Any image as a style (`fst.stylize.arbitrary`, the AdaIN model of `checkpoints`, default the shipped one).
    style_images: list[Path] = field(default_factory=list)
    style_weights: list[float] | None = None  # one per style image; None: equal
    style_size: int = 512  # long side the style images are encoded at
    alpha: float = 1.0  # content-style trade-off in feature space, 0..1
    wct: float = 0.7  # share of the whitening-colouring (WCT) target mixed into AdaIN's, 0..1 (0: AdaIN)
    # A reference photo's look (`fst.photo`): photographic, its colours region by region with `masks`.
    photo_style: Path | None = None
    masks: list[Path] = field(default_factory=list)  # [content mask file or folder, reference mask]
    photo_method: PhotoMethod = "sliced"  # how its low-resolution target is made (`fst.photo.transfer`)
    # Share of the reference's lightness taken, 0..1 (colour is taken whole); None: per photo, the
    # largest share that keeps the photo's structure (`fst.photo.structure`, docs/photo-style.md).
    photo_luminance: float | None = None

    def __post_init__(self) -> None:
        check_share("alpha", self.alpha)
        check_share("wct", self.wct)
        if self.photo_luminance is not None:
            check_share("photo_luminance", self.photo_luminance)
        if self.photo_style is not None and (self.styles or self.style_images):
            raise OptionError("{} (a photo's look) excludes {} and {}", "photo_style", "styles", "style_images")
        if self.masks and self.photo_style is None:
            raise OptionError("{} needs {}", "masks", "photo_style")
        if self.masks and len(self.masks) != 2:
            raise OptionError(f"{{}} takes 2 paths (content, reference), got {len(self.masks)}", "masks")
        if self.style_images and self.styles:
            raise OptionError(
                "{} (a trained style net) and {} (any image) exclude each other", "styles", "style_images"
            )
        if self.style_images and len(self.checkpoints) > 1:
            raise OptionError("{} takes one arbitrary-style model in {}", "style_images", "checkpoints")
        weights = self.style_weights
        if weights is not None and len(weights) != len(self.style_images):
            raise OptionError(f"{len(self.style_images)} style images but {len(weights)} {{}}", "style_weights")


@dataclass
class OutputOptions:
    """What is written and shown: format and quality, resume or overwrite, a progress bar."""

    format: str | None = None  # None keeps each input's format; "jpg", "png" or "webp" forces one
    quality: int = 92  # JPEG and WebP
    # PNG zlib level: 1 writes 5x faster than PIL's default 6 (0.07 against 0.32 s for a 1024 px
    # photo on this CPU, where encoding competes with the net for the cores), files 18% larger.
    png_compression: int = 1
    overwrite: bool = False  # False: existing outputs are skipped, so a rerun resumes
    progress: bool = True


@dataclass
class Controls:
    """What users dial around the net (`fst.stylize.controls`)."""

    strength: float = 1.0  # blend with the content, 0..1
    preserve_color: bool = False  # transfer luminance only
    content_scale: float = 1.0  # resize before the net (< 1: bigger strokes)
    # Long side (px) at which large images get the style's large forms: a second pass at this size
    # gives the low frequencies, the full-size pass the fine detail (`controls.paint_forms`;
    # docs/measurements.md, "forms at a working size"). 0: one pass at full size. None: the
    # stylizer's own default (`Stylizer.default_form_size`: 512 for style nets, 0 for AdaIN).
    form_size: int | None = None

    def __post_init__(self) -> None:
        if self.form_size is not None and self.form_size < 0:
            raise OptionError(f"{{}} must be 0 (off) or a long side in pixels, got {self.form_size}", "form_size")


@dataclass
class Performance:
    """Where and how fast the net runs: device, precision, compiled package, batching, threads."""

    device: str = "auto"
    precision: Precision = "auto"  # bf16 on CUDA and on CPUs with bf16 instructions, else fp32
    channels_last: bool = True
    # auto: use the compiled package when it is cached; build it (once per machine, 43-60 s here)
    # when the job plans at least `compile_min_images` whole images of `compile_min_mpx` megapixels
    # in all, so a one-off image, or the four small demo photos, never wait for it.
    compile: CompileMode = "auto"
    compile_min_images: int = 2
    compile_min_mpx: float = 2.0
    batch_size: int = 0  # 0: 1 on CPU (batching measured slower at 512 and 1024 px), 4 on CUDA
    workers: int = 2  # decode and encode threads
    # local: this process (sharded by RANK/WORLD_SIZE); ray: Ray Data on this machine or the
    # cluster of RAY_ADDRESS (`fst.stylize.ray_engine`, the `ray` extra).
    engine: Engine = "local"


@dataclass
class TilingOptions:
    """When and how images are stylized in tiles (`fst.stylize.tiling`)."""

    # Larger images are tiled. None: the model's own measured limit (`Stylizer.whole_image_limit`).
    max_pixels: int | None = None
    tile_size: int = 1024
    overlap: int = 128  # pixels shared by neighbouring tiles


_GROUPS = {
    "style": StyleChoice,
    "output": OutputOptions,
    "controls": Controls,
    "performance": Performance,
    "tiling": TilingOptions,
}


@dataclass
class StylizeOptions:
    """One run: which files, where to, and the option groups."""

    inputs: str  # a file, folder, glob or .txt list
    out_dir: Path
    style: StyleChoice = field(default_factory=StyleChoice)
    output: OutputOptions = field(default_factory=OutputOptions)
    controls: Controls = field(default_factory=Controls)
    performance: Performance = field(default_factory=Performance)
    tiling: TilingOptions = field(default_factory=TilingOptions)

    @classmethod
    def create(cls, inputs: str, out_dir: Path, checkpoints: Sequence[Path] = (), **options: Any) -> StylizeOptions:
        """From flat field names (`tile_size=512, alpha=0.8`), each routed to its group.

        Raises:
            TypeError: a name no group has.
            OptionError: a value out of range, or options that exclude each other.
        """
        options["checkpoints"] = list(checkpoints)
        grouped: dict[str, dict[str, Any]] = {group: {} for group in _GROUPS}
        for name, value in options.items():
            group = OPTION_GROUPS.get(name)
            if group is None:
                raise TypeError(f"no stylize option {name!r}")
            grouped[group][name] = value
        made = {group: kind(**grouped[group]) for group, kind in _GROUPS.items()}
        return cls(inputs, Path(out_dir), **made)


OPTION_GROUPS = {f.name: group for group, kind in _GROUPS.items() for f in fields(kind)}  # field -> group
