"""Stylize images larger than memory allows: pad, split into overlapping tiles, feather-blend.

Tiles of one image are normalised with the same whole-image instance-norm statistics: the net's
norms are swapped for `fst.models.norms.GlobalStatsNorm` in a copy sharing its weights, and its
public stages run tile by tile. Layer k's statistics depend on every layer before it, so they are
found in order: pass k runs the tiles up to norm k only (earlier norms already fixed) and pools
its input over each tile's core region. Iterating all layers at once instead diverges (a fixed
norm upstream shifts every estimate downstream). The passes cost about 6x one forward pass, so
`stats_fraction` can pool over an evenly spread subset of tiles instead: still self-consistent,
only a sampling error. A last pass produces the output, tiles blended with linear ramps
centred on the middle of each overlap.

All tiles have the same shape (edge tiles are shifted inwards rather than shrunk), so a compiled
net sees one shape for every large image.
"""

from __future__ import annotations

import contextlib
import itertools
import tempfile
from pathlib import Path

import torch

from fst.models.norms import GlobalStatsNorm, StopForward
from fst.models.transformer import TransformerNet

STRIDE = TransformerNet.stride  # tile sizes, overlaps and core boxes are multiples of it


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


def stylize_tiled(
    net: TransformerNet,
    image: torch.Tensor,
    tile_size: int = 1024,
    overlap: int = 128,
    stats_fraction: float = 1.0,
    batch_size: int = 1,
    cache_ram_bytes: int = 256 * 2**20,
) -> torch.Tensor:
    """Stylize one (3, H, W) image in [0, 1] tile by tile; returns (3, H, W) on the CPU.

    Args:
        net: the plain net, on its device (its norms are swapped in a copy, weights shared).
        image: the whole image, (3, H, W) float in [0, 1] or uint8 (converted tile by tile, so a
            huge image is never held as float); may stay on the CPU.
        tile_size: tile side in pixels (rounded up to a multiple of 4).
        overlap: pixels shared by neighbouring tiles; cover the net's receptive field (~50 px).
        stats_fraction: share of tiles the statistics are pooled over (1.0: exact whole-image).
        cache_ram_bytes: larger per-tile activation caches go to temporary files.
    """
    device = next(net.parameters()).device
    height, width = image.shape[-2:]
    # Pad once as the net's forward does, so the tiled result converges to the untiled one; the
    # tiles are then multiples of the stride and run its stages and head with nothing to crop.
    padded = net.pad(image[None])[0]  # `image` itself where no padding is needed: no 2nd copy
    padded_h, padded_w = padded.shape[-2:]
    net = net.with_norms(GlobalStatsNorm)
    tile_h, tile_w = min(round_up(tile_size), padded_h), min(round_up(tile_size), padded_w)
    overlap = round_up(overlap)
    rows, cols = tile_starts(padded_h, tile_h, overlap), tile_starts(padded_w, tile_w, overlap)
    row_cores, col_cores = core_bounds(rows, tile_h, padded_h), core_bounds(cols, tile_w, padded_w)
    tiles = [
        (top, left, (rt - top, rb - top, cl - left, cr - left))
        for top, (rt, rb) in zip(rows, row_cores, strict=True)
        for left, (cl, cr) in zip(cols, col_cores, strict=True)
    ]
    row_core_of, col_core_of = (
        dict(zip(rows, row_cores, strict=True)),
        dict(zip(cols, col_cores, strict=True)),
    )

    # Each tile's input to stage `frontier` is cached, so pass k runs only the stages since the
    # cache instead of the whole prefix (6x a forward pass before, about 2x now). Only inputs at
    # 1/4 resolution (8 values per pixel, the residual stages) are cached: full-resolution ones
    # would take 32 values per pixel, several GiB for a 6000x4000 image.
    stages = net.stages
    cacheable = range(len(net.encoder), len(net.encoder) + len(net.residuals) + 1)
    cache = TileCache(cache_ram_bytes)
    frontier = 0

    def run_stages(chosen: list[int], upto: int) -> torch.Tensor:
        if frontier == 0:
            crops = [padded[:, t : t + tile_h, lf : lf + tile_w] for t, lf, _ in map(tiles.__getitem__, chosen)]
            batch = torch.stack(crops)
            batch = batch.float().div_(255.0) if batch.dtype == torch.uint8 else batch
        else:
            batch = torch.stack([cache.get(i) for i in chosen])
        for norm in _norms(net):  # which core box of its tile each batch entry owns
            norm.cores, norm.tile_height = [tiles[i][2] for i in chosen], tile_h
        x = batch.to(device)
        for stage in stages[frontier:upto]:
            x = stage(x)
        return x

    def chunks(chosen: list[int]) -> list[list[int]]:
        return [chosen[first : first + batch_size] for first in range(0, len(chosen), batch_size)]

    everything = list(range(len(tiles)))
    count = max(1, min(len(tiles), round(len(tiles) * stats_fraction)))
    sample = sorted({round(i * (len(tiles) - 1) / max(1, count - 1)) for i in range(count)})
    with torch.no_grad():
        # Whole-image statistics, one norm layer at a time, in execution order.
        for index, stage in enumerate(stages):
            for norm in _norms(stage):
                norm.collect = norm.stop_after = True
                for chunk in chunks(sample):
                    with contextlib.suppress(StopForward):
                        run_stages(chunk, index + 1)
                norm.fixed = norm.collected()
                norm.collect = norm.stop_after = False
            if index + 1 in cacheable:  # every norm up to here is fixed: advance the cache
                for chunk in chunks(everything):
                    for i, out in zip(chunk, run_stages(chunk, index + 1).cpu(), strict=True):
                        cache.put(i, out, len(tiles))  # replaces this tile's previous entry
                frontier = index + 1

        # Output pass with feathered blending.
        blended = torch.zeros(3, padded_h, padded_w)
        weights = torch.zeros(1, padded_h, padded_w)
        for chunk in chunks(everything):
            out = net.head(run_stages(chunk, len(stages))).float().cpu()
            for i, stylized in zip(chunk, out, strict=True):
                top, left, _ = tiles[i]
                wy = ramp(top, tile_h, row_core_of[top], padded_h, overlap // 4)
                wx = ramp(left, tile_w, col_core_of[left], padded_w, overlap // 4)
                weight = wy[:, None] * wx[None, :]
                region = (slice(None), slice(top, top + tile_h), slice(left, left + tile_w))
                blended[region].addcmul_(stylized, weight.expand_as(stylized))
                weights[region].add_(weight)
    cache.close()
    return blended.div_(weights)[:, :height, :width]


def _norms(module: torch.nn.Module) -> list[GlobalStatsNorm]:
    return [m for m in module.modules() if isinstance(m, GlobalStatsNorm)]


def psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    """Peak signal-to-noise ratio in dB of two images in [0, 1]."""
    mse = (a.float() - b.float()).square().mean().item()
    return float("inf") if mse == 0 else 10.0 * torch.log10(torch.tensor(1.0 / mse)).item()
