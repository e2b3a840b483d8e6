"""One loaded style on one device: uint8 batches in, stylized uint8 batches out.

Chooses precision, runs the eager net or its compiled package (`compiled.py`), falls back to
tiles (`tiling.py`) for images over the pixel budget or out of memory, and applies the controls.
"""

from __future__ import annotations

from contextlib import AbstractContextManager

import torch

from fst.device import resolve_precision
from fst.models.transformer import TransformerNet
from fst.resize import resize
from fst.stylize import controls, tiling
from fst.stylize.compiled import CompiledNet, autocast
from fst.stylize.options import Controls, Performance, TilingOptions


class Stylizer:
    """One loaded style on one device: batches in, stylized batches out (controls applied).

    Args:
        compiled: the net as a compiled package (`fst.stylize.compiled`), or None for the eager net.
    """

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

    def whole_image_limit(self, compiled: bool) -> int:
        """Pixels up to which an image runs whole (larger ones in tiles), with or without the package."""
        return self.tiling.max_pixels

    def autocast(self) -> AbstractContextManager:
        return autocast(self.precision, self.device)

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        """The net on a device batch: the compiled package when there is one, else the eager net."""
        if self.compiled is None:
            with torch.inference_mode(), self.autocast():
                return self.net(self._memory_format(batch)).float()
        # The package takes sizes padded to the net's stride (its pad and crop, outside the graph).
        height, width = batch.shape[-2:]
        with torch.inference_mode():
            return self.compiled(self.net.pad(batch))[..., :height, :width].float()

    def _memory_format(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.contiguous(memory_format=torch.channels_last) if self.channels_last else batch

    @torch.inference_mode()  # results are modified in place below
    def __call__(self, content: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) uint8 CPU content -> (N, 3, H, W) uint8 CPU stylized, same size.

        uint8 at both ends: a 6000x4000 image is 72 MB so, 288 MB as float; the float copy is
        made only where needed (the net's input, tile by tile when tiled, and the controls).
        """
        height, width = content.shape[-2:]
        size = controls.scaled_size(height, width, self.controls.content_scale)
        scaled = content if size == (height, width) else resize(to_float(content), size)
        if size[0] * size[1] > self.whole_image_limit(self.compiled is not None):
            stylized = stack_images([self._tiled(image) for image in scaled])
        else:
            try:
                stylized = self._forward(to_float(scaled.to(self.device))).cpu()
            except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
                if not _is_out_of_memory(error):
                    raise
                _free_memory(self.device)
                stylized = stack_images([self._tiled(image) for image in scaled])  # fall back to tiles
        del scaled
        stylized = resize(stylized, (height, width))
        dials = self.controls
        if dials.strength != 1.0 or dials.preserve_color:  # neutral controls: no float copy
            stylized = controls.apply_controls(to_float(content), stylized, dials.strength, dials.preserve_color)
        # In place, as `fst.io.images.tensor_to_pil` rounds: clamp, x255, round.
        return stylized.clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)

    def _tiled(self, image: torch.Tensor) -> torch.Tensor:
        tile_size = self.tiling.tile_size
        while True:
            try:
                with self.autocast():
                    return self._run_tiles(image, tile_size)
            except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
                if not _is_out_of_memory(error) or tile_size <= 128:
                    raise
                _free_memory(self.device)
                tile_size //= 2  # halve the tile until it fits

    def _run_tiles(self, image: torch.Tensor, tile_size: int) -> torch.Tensor:
        """One (3, H, W) image through the net in tiles with whole-image statistics."""
        return tiling.stylize_tiled(self.net, image, tile_size, self.tiling.overlap)


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
