"""Stylize images larger than memory allows: pad, split into overlapping tiles, feather-blend.

One engine (`stylize_in_tiles`) serves every model. It pads the image once, splits it into tiles
of one shape (edge tiles are shifted inwards rather than shrunk, so a compiled net sees one shape
for every large image), lets the model pool its whole-image statistics over the tiles, runs the
tiles in batches and blends them with linear ramps centred on the middle of each overlap. What
differs between models is a `TiledModel`: its padding, its statistics pass and its tile forward.

The style nets' model (`GlobalStatsTiles`) normalises every tile with the same whole-image
instance-norm statistics: the net's norms are swapped for `fst.models.norms.GlobalStatsNorm` in a
copy sharing its weights, and its public stages run tile by tile. Layer k's statistics depend on
every layer before it, so they are found in order: pass k runs the tiles up to norm k only
(earlier norms already fixed) and pools its input over each tile's core region. Iterating all
layers at once instead diverges (a fixed norm upstream shifts every estimate downstream). The
passes cost about 6x one forward pass, so `stats_fraction` can pool over an evenly spread subset
of tiles instead: still self-consistent, only a sampling error. The AdaIN model's lives in
`fst.stylize.arbitrary`.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import torch

from fst.models.norms import GlobalStatsNorm, StopForward
from fst.models.transformer import TransformerNet
from fst.stylize.progress import Progress, stage_costs

STRIDE = TransformerNet.stride  # tile sizes, overlaps and core boxes are multiples of it
CACHE_RAM_BYTES = 256 * 2**20  # larger per-tile activation caches go to temporary files


def round_up(value: int, multiple: int = STRIDE) -> int:
    return value + (-value) % multiple


def tile_starts(length: int, tile: int, overlap: int) -> list[int]:
    """Start offsets of tiles of size `tile` covering [0, length); the last one shifted to end at length."""
    if length <= tile:
        return [0]
    step = tile - overlap
    starts = list(range(0, length - tile, step))
    starts.append(length - tile)
    return starts


def core_bounds(starts: list[int], tile: int, length: int, multiple: int = STRIDE) -> list[tuple[int, int]]:
    """Split [0, length) among tiles at the middle of each overlap (multiples of `multiple`)."""
    cuts = [0]
    for previous, current in itertools.pairwise(starts):
        middle = (current + min(previous + tile, length)) // 2
        cuts.append(max(cuts[-1], middle - middle % multiple))
    cuts.append(length)
    return list(itertools.pairwise(cuts))


def ramp(start: int, size: int, core: tuple[int, int], length: int, blend: int) -> torch.Tensor:
    """1-D blend weight of one tile: 1 over its core, linear ramps `blend` wide centred on each cut.

    Centring the ramps on the cuts (the middle of each overlap) keeps the tile edges, whose pixels
    miss context beyond the tile, at weight 0; neighbouring ramps sum to 1.
    """
    position = torch.arange(start, start + size, dtype=torch.float32) + 0.5
    low, high = core
    weight = torch.ones(size)
    if low > 0:
        weight = weight.minimum(((position - low) / max(blend, 1) + 0.5).clamp(0, 1))
    if high < length:
        weight = weight.minimum(((high - position) / max(blend, 1) + 0.5).clamp(0, 1))
    return weight


class TileCache:
    """Each tile's input to the current stage: in RAM while small, else in files on disk.

    A 6000x4000 image holds 35 tiles x 16.8 MB in bf16 (twice that in fp32): on disk it costs a
    few seconds of I/O and no resident memory (the page cache is not the process's).
    """

    def __init__(self, ram_bytes: int) -> None:
        self.ram_bytes = ram_bytes
        self.entries: dict[int, torch.Tensor | Path] = {}
        self.folder: tempfile.TemporaryDirectory | None = None

    def put(self, index: int, tensor: torch.Tensor, tiles: int) -> None:
        if self.folder is None and tensor.nbytes * tiles > self.ram_bytes:
            self.folder = tempfile.TemporaryDirectory(prefix="fst_tiles_")
            for key in list(self.entries):
                self.put(key, self.get(key), tiles)
        if self.folder is None:
            self.entries[index] = tensor.clone()  # a view would keep its whole batch alive
            return
        path = Path(self.folder.name) / f"{index}.pt"
        torch.save(tensor.clone(), path)  # clone: torch.save writes a view's whole storage
        self.entries[index] = path

    def get(self, index: int) -> torch.Tensor:
        entry = self.entries[index]
        return torch.load(entry, weights_only=True) if isinstance(entry, Path) else entry

    def close(self) -> None:
        self.entries.clear()
        if self.folder is not None:
            self.folder.cleanup()


@dataclass(frozen=True)
class Tile:
    """One tile of the padded image: its top-left corner and the core region it alone owns."""

    top: int
    left: int
    rows: tuple[int, int]  # core rows [low, high) in padded-image pixels
    cols: tuple[int, int]  # core columns [low, high)

    def core_box(self) -> tuple[int, int, int, int]:
        """The core as (top, bottom, left, right) in the tile's own pixels."""
        return self.rows[0] - self.top, self.rows[1] - self.top, self.cols[0] - self.left, self.cols[1] - self.left


class Tiles:
    """A padded image split into overlapping tiles of one shape, and a cache for per-tile tensors.

    Args:
        padded: (3, H, W) uint8 or float in [0, 1]; may stay on the CPU (tiles move one batch at a time).
        stride: the model's total stride: tile sizes, overlaps and core bounds are multiples of it.
    """

    def __init__(
        self,
        padded: torch.Tensor,
        tile_size: int,
        overlap: int,
        stride: int,
        device: torch.device,
        batch_size: int = 1,
        cache_ram_bytes: int = CACHE_RAM_BYTES,
    ) -> None:
        self.padded, self.device, self.batch_size, self.stride = padded, device, batch_size, stride
        self.height, self.width = padded.shape[-2:]
        self.tile_h = min(round_up(tile_size, stride), self.height)
        self.tile_w = min(round_up(tile_size, stride), self.width)
        self.overlap = round_up(overlap, stride)
        rows = tile_starts(self.height, self.tile_h, self.overlap)
        cols = tile_starts(self.width, self.tile_w, self.overlap)
        row_cores = core_bounds(rows, self.tile_h, self.height, stride)
        col_cores = core_bounds(cols, self.tile_w, self.width, stride)
        self.tiles = [
            Tile(top, left, row_core, col_core)
            for top, row_core in zip(rows, row_cores, strict=True)
            for left, col_core in zip(cols, col_cores, strict=True)
        ]
        self.cache = TileCache(cache_ram_bytes)

    def __len__(self) -> int:
        return len(self.tiles)

    def chunks(self, chosen: list[int] | None = None) -> list[list[int]]:
        """Tile indices (default: all) in batches of `batch_size`."""
        chosen = list(range(len(self.tiles))) if chosen is None else chosen
        return [chosen[first : first + self.batch_size] for first in range(0, len(chosen), self.batch_size)]

    def crops(self, chosen: list[int]) -> torch.Tensor:
        """The chosen tiles of the image as one (n, 3, tile_h, tile_w) float batch on the device."""
        crops = [self.padded[:, t.top : t.top + self.tile_h, t.left : t.left + self.tile_w] for t in self._of(chosen)]
        batch = torch.stack(crops).to(self.device)
        return batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch  # one tile at a time as float

    def core_boxes(self, chosen: list[int]) -> list[tuple[int, int, int, int]]:
        return [tile.core_box() for tile in self._of(chosen)]

    def _of(self, chosen: list[int]) -> list[Tile]:
        return [self.tiles[i] for i in chosen]

    def blend(self, chunks: Iterable[tuple[list[int], torch.Tensor]]) -> torch.Tensor:
        """Stylized tiles, (n, 3, tile_h, tile_w) per chunk, feather-blended into (3, H, W) on the CPU."""
        blended = torch.zeros(3, self.height, self.width)
        weights = torch.zeros(1, self.height, self.width)
        ramp_width = self.overlap // 4
        for chosen, out in chunks:
            for tile, stylized in zip(self._of(chosen), out.float().cpu(), strict=True):
                wy = ramp(tile.top, self.tile_h, tile.rows, self.height, ramp_width)
                wx = ramp(tile.left, self.tile_w, tile.cols, self.width, ramp_width)
                weight = wy[:, None] * wx[None, :]
                rows, cols = slice(tile.top, tile.top + self.tile_h), slice(tile.left, tile.left + self.tile_w)
                region = (slice(None), rows, cols)
                blended[region].addcmul_(stylized, weight.expand_as(stylized))
                weights[region].add_(weight)
        return blended.div_(weights)


class TiledModel(Protocol):
    """What a model supplies to run in tiles; the engine does the splitting, batching and blending."""

    stride: int
    device: torch.device

    def pad(self, image: torch.Tensor) -> tuple[torch.Tensor, int]:
        """(3, H, W) -> the padded image the untiled forward would see, and the margin before the image."""
        ...

    def statistics_share(self, tiles: Tiles) -> float:
        """The statistics passes' share of all the work (they and the final pass), for progress."""
        ...

    def pool_statistics(self, tiles: Tiles, progress: Progress | None = None) -> None:
        """Fix the whole-image statistics every tile is normalised with (passes over `tiles`),
        reporting fractions of this work to `progress`."""
        ...

    def stylize_tiles(self, tiles: Tiles, chosen: list[int]) -> torch.Tensor:
        """The chosen tiles stylized: (n, 3, tile_h, tile_w)."""
        ...


def stylize_in_tiles(
    model: TiledModel,
    image: torch.Tensor,
    tile_size: int = 1024,
    overlap: int = 128,
    batch_size: int = 1,
    cache_ram_bytes: int = CACHE_RAM_BYTES,
    progress: Progress | None = None,
) -> torch.Tensor:
    """Stylize one (3, H, W) image (uint8 or float in [0, 1]) tile by tile; (3, H, W) float on the CPU.

    Args:
        image: the whole image; may stay on the CPU, and uint8 is converted tile by tile, so a huge
            image is never held as float.
        tile_size: tile side in pixels (rounded up to a multiple of the model's stride).
        overlap: pixels shared by neighbouring tiles; cover the model's receptive field.
        cache_ram_bytes: larger per-tile caches go to temporary files.
        progress: told after every batch of tiles of every pass.
    """
    height, width = image.shape[-2:]
    # Pad once as the untiled forward does, so the tiled result converges to the untiled one.
    padded, margin = model.pad(image)
    tiles = Tiles(padded, tile_size, overlap, model.stride, model.device, batch_size, cache_ram_bytes)
    try:
        with torch.no_grad():
            share = model.statistics_share(tiles) if progress else 0.0
            model.pool_statistics(tiles, progress.span(0.0, share) if progress else None)
            stylized = tiles.blend(_final_pass(model, tiles, progress.span(share, 1.0) if progress else None))
    finally:
        tiles.cache.close()
    return stylized[:, margin : margin + height, margin : margin + width]


def _final_pass(model: TiledModel, tiles: Tiles, progress: Progress | None) -> Iterator[tuple[list[int], torch.Tensor]]:
    chunks = tiles.chunks()
    for done, chunk in enumerate(chunks, 1):
        yield chunk, model.stylize_tiles(tiles, chunk)
        if progress:
            progress(done / len(chunks))


class GlobalStatsTiles:
    """A `TransformerNet` as a `TiledModel`: every norm uses whole-image statistics pooled over tiles.

    Args:
        net: the plain net, on its device (its norms are swapped in a copy, weights shared).
        stats_fraction: share of tiles the statistics are pooled over (1.0: exact whole-image).
    """

    stride = STRIDE

    def __init__(self, net: TransformerNet, stats_fraction: float = 1.0) -> None:
        self.plain = net
        self.net = net.with_norms(GlobalStatsNorm)
        self.device = next(net.parameters()).device
        self.stats_fraction = stats_fraction
        self.frontier = 0  # the stage whose input each tile has cached (0: the image itself)
        self._costs: list[float] | None = None  # each stage's share of a forward (`stage_costs`)

    def pad(self, image: torch.Tensor) -> tuple[torch.Tensor, int]:
        # The tiles are then multiples of the stride and run the stages and head with nothing to crop.
        return self.plain.pad(image[None])[0], 0  # `image` itself where no padding is needed: no copy

    def pool_statistics(self, tiles: Tiles, progress: Progress | None = None) -> None:
        """Whole-image statistics, one norm layer at a time, in execution order.

        Each tile's input to stage `frontier` is cached, so pass k runs only the stages since the
        cache instead of the whole prefix (6x a forward pass before, about 2x now). Only inputs at
        1/4 resolution (8 values per pixel, the residual stages) are cached: full-resolution ones
        would take 32 values per pixel, several GiB for a 6000x4000 image.
        """
        stages = self.net.stages
        sample = self._sample(tiles)
        planned = self._statistics_work(tiles)
        done = 0.0
        for index, stage in enumerate(stages):
            for norm in _norms(stage):
                norm.collect = norm.stop_after = True
                for chunk in tiles.chunks(sample):
                    with contextlib.suppress(StopForward):
                        self._run_stages(tiles, chunk, index + 1)
                    done += self._work(len(chunk), self.frontier, index + 1)
                    if progress:
                        progress(done / planned)
                norm.fixed = norm.collected()
                norm.collect = norm.stop_after = False
            if index + 1 in self._cacheable():  # every norm up to here is fixed: advance the cache
                for chunk in tiles.chunks():
                    for i, out in zip(chunk, self._run_stages(tiles, chunk, index + 1).cpu(), strict=True):
                        tiles.cache.put(i, out, len(tiles))  # replaces this tile's previous entry
                    done += self._work(len(chunk), self.frontier, index + 1)
                    if progress:
                        progress(done / planned)
                self.frontier = index + 1

    def statistics_share(self, tiles: Tiles) -> float:
        statistics = self._statistics_work(tiles)
        final = self._work(len(tiles), self._cacheable()[-1], len(self.net.stages))
        return statistics / (statistics + final)

    def _sample(self, tiles: Tiles) -> list[int]:
        """The tiles the statistics are pooled over: `stats_fraction` of them, evenly spread."""
        count = max(1, min(len(tiles), round(len(tiles) * self.stats_fraction)))
        return sorted({round(i * (len(tiles) - 1) / max(1, count - 1)) for i in range(count)})

    def _cacheable(self) -> range:
        """Stages whose inputs are cached: those at 1/4 resolution (after the encoder)."""
        return range(len(self.net.encoder), len(self.net.encoder) + len(self.net.residuals) + 1)

    def _work(self, tiles: int, first: int, upto: int) -> float:
        """Multiply-adds (as shares of one forward) of running stages [first, upto) on `tiles` tiles."""
        if self._costs is None:
            self._costs = stage_costs(self.plain)
        return tiles * sum(self._costs[first:upto])

    def _statistics_work(self, tiles: Tiles) -> float:
        """What `pool_statistics` will run, by the same steps without running them."""
        work, frontier, sampled = 0.0, 0, len(self._sample(tiles))
        for index, stage in enumerate(self.net.stages):
            work += len(_norms(stage)) * self._work(sampled, frontier, index + 1)
            if index + 1 in self._cacheable():
                work += self._work(len(tiles), frontier, index + 1)
                frontier = index + 1
        return max(work, 1e-9)

    def stylize_tiles(self, tiles: Tiles, chosen: list[int]) -> torch.Tensor:
        return self.net.head(self._run_stages(tiles, chosen, len(self.net.stages)))

    def _run_stages(self, tiles: Tiles, chosen: list[int], upto: int) -> torch.Tensor:
        """The chosen tiles from the cached stage up to stage `upto` (exclusive)."""
        if self.frontier == 0:
            x = tiles.crops(chosen)
        else:
            x = torch.stack([tiles.cache.get(i) for i in chosen]).to(self.device)
        for norm in _norms(self.net):  # which core box of its tile each batch entry owns
            norm.cores, norm.tile_height = tiles.core_boxes(chosen), tiles.tile_h
        for stage in self.net.stages[self.frontier : upto]:
            x = stage(x)
        return x


def stylize_tiled(
    net: TransformerNet,
    image: torch.Tensor,
    tile_size: int = 1024,
    overlap: int = 128,
    stats_fraction: float = 1.0,
    batch_size: int = 1,
    cache_ram_bytes: int = CACHE_RAM_BYTES,
    progress: Progress | None = None,
) -> torch.Tensor:
    """A style net on one (3, H, W) image in tiles with whole-image statistics; (3, H, W) on the CPU.

    `overlap` should cover the net's receptive field (~50 px); see `stylize_in_tiles` for the rest.
    """
    model = GlobalStatsTiles(net, stats_fraction)
    return stylize_in_tiles(model, image, tile_size, overlap, batch_size, cache_ram_bytes, progress)


def _norms(module: torch.nn.Module) -> list[GlobalStatsNorm]:
    return [m for m in module.modules() if isinstance(m, GlobalStatsNorm)]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two images in [0, 1]."""
    mse = (a.float() - b.float()).square().mean().item()
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(1.0 / mse)).item()
