"""One loaded style on one device: uint8 batches in, stylized uint8 batches out.

Chooses precision, runs the eager net or its compiled package (`compiled.py`), falls back to
tiles (`tiling.py`) for images over the pixel budget or out of memory, and applies the controls.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager

import torch

from fst.device import resolve_precision
from fst.models.transformer import TransformerNet
from fst.resize import resize
from fst.stylize import controls, tiling
from fst.stylize.compiled import CompiledNet, autocast
from fst.stylize.options import Controls, Performance, TilingOptions
from fst.stylize.progress import Pace, Progress, stage_costs, ticking


class Stylizer:
    """One loaded style on one device: batches in, stylized batches out (controls applied).

    Args:
        compiled: the net as a compiled package (`fst.stylize.compiled`), or None for the eager net.
    """

    # Measured for the shipped style nets (docs/measurements.md, "forms at a working size").
    default_form_size = 512
    # Whole-image limits (pixels) when --max-pixels is not given, from measured peak RSS on CPU in
    # bf16 (docs/measurements.md, "One photo, whole process"). Eager, any layout: 6 MP (a 12-MP
    # photo whole took 3.0 GiB with the space-to-depth net, in tiles 1.6 GiB and 1.3x the time).
    # Compiled, the space-to-depth layout (nothing at full resolution): 6000x4000 whole in 2.5 GiB.
    EAGER_MAX_PIXELS = 6_000_000
    SPACE_TO_DEPTH_COMPILED_MAX_PIXELS = 24_000_000

    def __init__(
        self,
        net: TransformerNet,
        name: str,
        device: torch.device,
        controls: Controls | None = None,
        tiling: TilingOptions | None = None,
        performance: Performance | None = None,
        compiled: CompiledNet | None = None,
    ) -> None:
        self.name = name
        self.device = device
        self.controls = controls or Controls()
        self.tiling = tiling or TilingOptions()
        self.channels_last = (performance or Performance()).channels_last
        memory_format = torch.channels_last if self.channels_last else torch.contiguous_format
        self.net = net.to(device).to(memory_format=memory_format).eval()
        self.precision = resolve_precision((performance or Performance()).precision, device)
        self.compiled = compiled
        self.pace = Pace()  # an engine that keeps this style hands in the one it keeps

    def whole_image_limit(self, compiled: bool) -> int:
        """Pixels up to which an image runs whole (larger ones in tiles), with or without the package:
        --max-pixels when given, else what the net's layout fits in memory."""
        if self.tiling.max_pixels is not None:
            return self.tiling.max_pixels
        if compiled and getattr(self.net, "space_to_depth", False):
            return self.SPACE_TO_DEPTH_COMPILED_MAX_PIXELS
        return self.EAGER_MAX_PIXELS

    def autocast(self) -> AbstractContextManager:
        return autocast(self.precision, self.device)

    def _forward(self, batch: torch.Tensor, progress: Progress | None = None) -> torch.Tensor:
        """The net on a device batch: the compiled package when there is one, else the eager net.

        With `progress`, the eager style net runs stage by stage and reports each; an opaque call
        (a compiled package, the AdaIN model) is estimated by the time its last call took.
        """
        if progress is not None and self.compiled is None and isinstance(self.net, TransformerNet):
            return self._forward_in_stages(batch, progress)
        pixels = batch.shape[0] * batch.shape[-2] * batch.shape[-1]
        start = time.perf_counter()
        with ticking(progress, self.pace.expected_s(pixels)):
            if self.compiled is None:
                with torch.inference_mode(), self.autocast():
                    out = self.net(self._memory_format(batch)).float()
            else:
                # The package takes sizes padded to the net's stride (its pad and crop, outside the graph).
                height, width = batch.shape[-2:]
                with torch.inference_mode():
                    out = self.compiled(self.net.pad(batch))[..., :height, :width].float()
        self.pace.record(time.perf_counter() - start, pixels)
        return out

    def _forward_in_stages(self, batch: torch.Tensor, progress: Progress) -> torch.Tensor:
        """`TransformerNet.forward`, one stage at a time, each reported by its share of the work."""
        net, (height, width) = self.net, batch.shape[-2:]
        done = 0.0
        with torch.inference_mode(), self.autocast():
            y = net.pad(self._memory_format(batch))
            for stage, cost in zip(net.stages, stage_costs(net), strict=True):
                y = stage(y)
                done += cost
                progress(done)
            return net.head(y[..., :height, :width]).float()

    def _memory_format(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch

    @torch.inference_mode()  # results are modified in place below
    def __call__(self, content: torch.Tensor, progress: Progress | None = None) -> torch.Tensor:
        """(N, 3, H, W) uint8 CPU content -> (N, 3, H, W) uint8 CPU stylized, same size.

        uint8 at both ends: a 6000x4000 image is 72 MB so, 288 MB as float; the float copy is
        made only where needed (the net's input, tile by tile when tiled, and the controls).
        `progress` is told each stage of the net, or each batch of tiles, as it ends.
        """
        height, width = content.shape[-2:]
        size = controls.scaled_size(height, width, self.controls.content_scale)
        scaled = content if size == (height, width) else resize(to_float(content), size)
        form_size = self.default_form_size if self.controls.form_size is None else self.controls.form_size
        pass_size = controls.forms_pass_size(*size, form_size)  # None: one pass
        # The net's share of the progress is 0.95 (the rest: resizes and controls), split by pixels.
        passes = _pixels(size) + (_pixels(pass_size) if pass_size else 0)
        full_share = 0.95 * _pixels(size) / passes
        stylized = self._stylize(scaled, progress.span(0.0, full_share) if progress else None)
        if pass_size is not None:
            forms_progress = progress.span(full_share, 0.95) if progress else None
            forms = self._stylize(resize(to_float(scaled), pass_size), forms_progress)
            stylized = controls.paint_forms(stylized, forms)
            del forms
        del scaled
        stylized = resize(stylized, (height, width))
        dials = self.controls
        if dials.strength != 1.0 or dials.preserve_color:  # neutral controls: no float copy
            stylized = controls.apply_controls(to_float(content), stylized, dials.strength, dials.preserve_color)
        # In place, as `fst.io.images.tensor_to_pil` rounds: clamp, x255, round.
        stylized = stylized.clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)
        if progress:
            progress(1.0)
        return stylized

    def _stylize(self, images: torch.Tensor, progress: Progress | None) -> torch.Tensor:
        """(N, 3, H, W) uint8 or float CPU images through the net, whole or in tiles -> float CPU."""
        if images.shape[-2] * images.shape[-1] > self.whole_image_limit(self.compiled is not None):
            return self._tiled_batch(images, progress)
        try:
            return self._forward(to_float(images.to(self.device)), progress).cpu()
        except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
            if not _is_out_of_memory(error):
                raise
            _free_memory(self.device)
            return self._tiled_batch(images, progress)  # fall back to tiles

    def _tiled_batch(self, images: torch.Tensor, progress: Progress | None) -> torch.Tensor:
        count = len(images)
        spans = [progress.span(i / count, (i + 1) / count) if progress else None for i in range(count)]
        return stack_images([self._tiled(image, span) for image, span in zip(images, spans, strict=True)])

    def _tiled(self, image: torch.Tensor, progress: Progress | None = None) -> torch.Tensor:
        tile_size = self.tiling.tile_size
        while True:
            try:
                with self.autocast():
                    return self._run_tiles(image, tile_size, progress)
            except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
                if not _is_out_of_memory(error) or tile_size <= 128:
                    raise
                _free_memory(self.device)
                tile_size //= 2  # halve the tile until it fits

    def _run_tiles(self, image: torch.Tensor, tile_size: int, progress: Progress | None = None) -> torch.Tensor:
        """One (3, H, W) image through the net in tiles with whole-image statistics."""
        return tiling.stylize_tiled(self.net, image, tile_size, self.tiling.overlap, progress=progress)


def _pixels(size: tuple[int, int]) -> int:
    return size[0] * size[1]


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(error).lower()


def _free_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 in [0, 1], exactly as `fst.io.images.pil_to_tensor` converts; floats pass."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image


def stack_images(images: list[torch.Tensor]) -> torch.Tensor:
    return images[0][None] if len(images) == 1 else torch.stack(images)  # one image: no copy
