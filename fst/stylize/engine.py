"""The public way to stylize: load a style once, apply the one compile policy, stylize files.

Both front ends go through here: the batch job (`fst.stylize.pipeline`) for whole folders, and
`StyleEngine` for one file at a time (the web service's queue worker). Loading a style, choosing
its `Stylizer` and deciding whether to use or build its compiled package happen only here.

    engine = StyleEngine(device="cpu")
    engine.stylize_file(Path("photo.jpg"), Path("out.jpg"), TrainedStyle("udnie", Path("udnie.safetensors")))
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from fst.checkpoint import load_adain
from fst.device import resolve_device, resolve_precision
from fst.io.images import load_tensor, read_image, save_image_atomic
from fst.models.adain import AdaINModel
from fst.models.transformer import TransformerNet
from fst.stylize import compiled
from fst.stylize.arbitrary import ArbitraryStylizer, StyledAdaIN, styled
from fst.stylize.loading import load_stylizer
from fst.stylize.options import Controls, OutputOptions, Performance, StyleChoice, TilingOptions
from fst.stylize.progress import Pace, Progress
from fst.stylize.stylizer import Stylizer
from fst.zoo import parse_mix

log = logging.getLogger(__name__)

StyleNet = TransformerNet | StyledAdaIN


def compile_net(
    net: compiled.CompilableNet,
    performance: Performance,
    device: torch.device,
    worth_building: Callable[[], bool],
) -> compiled.CompiledNet | None:
    """The compile policy: the net's compiled package, or None for the eager net.

    `off`: never. `on`: build it when missing. `auto`: use it whenever it is cached, and build it
    only when `worth_building()` says the work ahead repays a build (43-60 s on a 2-core CPU), so
    a one-off image never waits for one.
    """
    if performance.compile == "off":
        return None
    precision = resolve_precision(performance.precision, device)
    build = performance.compile == "on"
    if not build and not compiled.is_cached(net, precision, device):
        build = worth_building()
    return compiled.load(net, precision, device, build_if_missing=build)


def make_stylizer(
    net: StyleNet,
    name: str,
    device: torch.device,
    controls: Controls,
    tiling: TilingOptions,
    performance: Performance,
) -> Stylizer:
    """The `Stylizer` that fits the net: the AdaIN model tiles and caps whole images its own way."""
    kind = ArbitraryStylizer if isinstance(net, StyledAdaIN) else Stylizer
    return kind(net, name, device, controls, tiling, performance)


@dataclass(frozen=True)
class TrainedStyle:
    """A style net: a style (or mix, `name=w,name=w`) of a checkpoint file."""

    name: str
    checkpoint: Path


@dataclass(frozen=True)
class ImageStyle:
    """Any image as the style, through an arbitrary-style (AdaIN) model file."""

    image: Path
    model: Path


@dataclass
class StyleEngine:
    """Stylizes one file at a time; loads each style net and AdaIN model once and keeps it.

    Thread-safe: nets are loaded under a lock and then only read. On `compile="auto"` a style net's
    package is built only on a GPU (a CPU build takes about a minute: a request must not wait for
    it); a cached one is always used. Style images run the eager AdaIN model: each is a new net.

    Args:
        device: "auto", "cpu", "cuda", ...
        style: `style_size` and `wct` for style images (one image, full strength in feature space).
    """

    device: str | torch.device = "auto"
    performance: Performance = field(default_factory=Performance)
    tiling: TilingOptions = field(default_factory=TilingOptions)
    output: OutputOptions = field(default_factory=OutputOptions)
    style: StyleChoice = field(default_factory=StyleChoice)

    def __post_init__(self) -> None:
        self.device = resolve_device(str(self.device))
        self._nets: dict[TrainedStyle, tuple[TransformerNet, compiled.CompiledNet | None]] = {}
        self._models: dict[Path, AdaINModel] = {}
        self._paces: dict[TrainedStyle | Path, Pace] = {}  # per net: how long an opaque call takes
        self._lock = threading.Lock()

    def trained_net(self, style: TrainedStyle) -> tuple[TransformerNet, compiled.CompiledNet | None]:
        """The style's net and its compiled package (or None), loaded on first use and kept."""
        with self._lock:
            if style not in self._nets:
                mix = parse_mix(style.name)
                net, _ = load_stylizer(style.checkpoint, self.style.output_head, self.device, style=mix)
                package = compile_net(net, self.performance, self.device, lambda: self.device.type == "cuda")
                self._nets[style] = (net, package)
                log.info("loaded %s on %s (%s)", style.name, self.device, "compiled" if package else "eager")
            return self._nets[style]

    def adain_model(self, path: Path) -> AdaINModel:
        """The arbitrary-style model of `path`, loaded on first use and kept."""
        with self._lock:
            if path not in self._models:
                self._models[path] = load_adain(path, self.device)[0]
                log.info("loaded the arbitrary-style model %s on %s", path.name, self.device)
            return self._models[path]

    def stylizer(self, style: TrainedStyle | ImageStyle, controls: Controls) -> Stylizer:
        """A `Stylizer` for `style` with these controls (the style image encoded now)."""
        if isinstance(style, TrainedStyle):
            net, package = self.trained_net(style)
            stylizer = make_stylizer(net, style.name, self.device, controls, self.tiling, self.performance)
            stylizer.compiled = package
        else:
            image = load_tensor(style.image, long_side=self.style.style_size)[None].to(self.device)
            net = styled(self.adain_model(style.model), [image], alpha=self.style.alpha, wct=self.style.wct)
            stylizer = make_stylizer(net, "style image", self.device, controls, self.tiling, self.performance)
        stylizer.pace = self._paces.setdefault(style if isinstance(style, TrainedStyle) else style.model, Pace())
        return stylizer

    def stylize_file(
        self,
        photo: Path,
        target: Path,
        style: TrainedStyle | ImageStyle,
        controls: Controls | None = None,
        on_progress: Callable[[float], None] = lambda _: None,
    ) -> None:
        """Decode `photo`, stylize it, write `target` atomically (format from its extension).

        `on_progress` gets fractions of the work done, growing, up to 1.0 once `target` is written.

        Raises:
            ImageReadError: the photo or style image cannot be read (one line naming it).
            CheckpointError: the style's file cannot be loaded.
        """
        # Shares of a small photo's time on a CPU: reading and style a few percent each, the net
        # most of it, reported stage by stage or tile by tile (`fst.stylize.progress`), then writing.
        progress = Progress(on_progress)
        content = to_uint8_tensor(read_image(photo).rgb)[None]
        progress(0.04)
        stylizer = self.stylizer(style, controls or Controls())
        progress(0.08)
        stylized = stylizer(content, progress.span(0.08, 0.94))[0]
        write_uint8(stylized, target, self.output)
        progress(1.0)


def to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> (3, H, W) uint8 tensor (a view of one array copy)."""
    return torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)


def write_uint8(stylized: torch.Tensor, target: Path, output: OutputOptions, alpha: Image.Image | None = None) -> None:
    """(3, H, W) uint8 -> `target`, atomically, with the output options' quality and compression."""
    image = Image.fromarray(np.ascontiguousarray(stylized.permute(1, 2, 0).numpy()), mode="RGB")
    save_image_atomic(image, target, output.quality, alpha, output.png_compression)
