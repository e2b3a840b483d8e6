"""Any image as a style (`stylize.py --style-image`): the AdaIN model as one more net of the batch job.

The style images are encoded once per run (at `--style-size`, long side), their statistics mixed
by `--style-weights`, and the result is a plain net content -> stylized (`StyledAdaIN`), so the
pipeline's planning, batching, atomic writes, resume, sharding and controls apply unchanged.
Images over the pixel budget are tiled: relu4_1 statistics are pooled over every tile's core
region first (the encoder is the only part that differs between tiles; the decoder has no
normalisation), then each tile is decoded with the whole image's statistics.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import torch
from torch import nn

from fst import zoo
from fst.checkpoint import CheckpointError, load_adain
from fst.io.images import load_tensor
from fst.models.adain import ENCODER_LAYER, EPS, AdaINModel, ChannelStats, adaptive_instance_norm, blend_stats
from fst.stylize.options import StylizeOptions
from fst.stylize.stylizer import Stylizer
from fst.stylize.tiling import TileCache, core_bounds, ramp, round_up, tile_starts

DEFAULT_MODEL = zoo.CHECKPOINT_DIR / "adain.safetensors"


class StyledAdaIN(nn.Module):
    """An `AdaINModel` with its style fixed: (N, 3, H, W) content in [0, 1] -> stylized, same size."""

    def __init__(self, model: AdaINModel, style: ChannelStats, alpha: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"--alpha must be in [0, 1], got {alpha}")
        self.model, self.alpha = model, alpha
        self.register_buffer("style_mean", style.mean)
        self.register_buffer("style_std", style.std)

    @property
    def style(self) -> ChannelStats:
        return ChannelStats(self.style_mean, self.style_std)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.model(content, self.style, self.alpha)


def style_name(paths: Sequence[Path], weights: Sequence[float] | None) -> str:
    """Output folder name of a style mix: `the_scream`, or `a-70+b-30` (as `--style` mixes)."""
    weights = list(weights) if weights is not None else [1.0] * len(paths)
    return zoo.mix_name({Path(p).stem: w for p, w in zip(paths, weights, strict=True)})


def load(options: StylizeOptions) -> tuple[StyledAdaIN, dict]:
    """The model of `-c` (default: the shipped one) with the run's style images encoded.

    Raises:
        CheckpointError: no model, or a file that is not one (one line).
        ImageReadError: a style image that cannot be read (one line naming it).
        ValueError: weights that do not fit the style images, alpha out of range.
    """
    if options.styles:
        raise ValueError("--style (a trained style net) and --style-image (any image) exclude each other")
    if len(options.checkpoints) > 1:
        raise ValueError("--style-image takes one arbitrary-style model (-c FILE)")
    path = Path(options.checkpoints[0]) if options.checkpoints else DEFAULT_MODEL
    if not path.is_file() and path == DEFAULT_MODEL:
        raise CheckpointError(
            f"no arbitrary-style model is shipped yet ({path}); train one with `python train.py experiment=adain` "
            "and pass its export: -c runs/adain/<run>/checkpoints/adain.safetensors"
        )
    model, metadata = load_adain(path)
    weights = options.style_weights
    if weights is not None and len(weights) != len(options.style_images):
        raise ValueError(f"{len(options.style_images)} style images but {len(weights)} --style-weights")
    images = [load_tensor(p, long_side=options.style_size)[None] for p in options.style_images]
    with torch.inference_mode():
        style = blend_stats([model.style_stats(image) for image in images], weights)
    # Clone out of inference mode: these become buffers moved with the net.
    net = StyledAdaIN(model, ChannelStats(style.mean.clone(), style.std.clone()), options.alpha)
    return net, {**metadata, "name": style_name(options.style_images, weights), "format": "fst-adain"}


class ArbitraryStylizer(Stylizer):
    """`Stylizer` for `StyledAdaIN`: eager (no compiled package yet); its own tiling.

    Whole images are capped at `MAX_PIXELS`: encoder and decoder run 64 channels at full
    resolution, measured 0.7 GB of peak RSS per megapixel in bf16 on CPU (1.5 GB at 0.8 MP,
    3.1 GB at 3.1 MP), against the style nets' 32; larger images go to tiles.
    """

    MAX_PIXELS = 2_000_000
    net: StyledAdaIN

    def __init__(self, net: StyledAdaIN, name: str, options: StylizeOptions, device: torch.device) -> None:
        super().__init__(net, name, replace(options, max_pixels=min(options.max_pixels, self.MAX_PIXELS)), device)

    def _run_tiles(self, image: torch.Tensor, tile_size: int) -> torch.Tensor:
        return stylize_tiled(self.net.model, self.net.style, image, tile_size, self.options.overlap, self.net.alpha)


def stylize_tiled(
    model: AdaINModel,
    style: ChannelStats,
    image: torch.Tensor,
    tile_size: int = 1024,
    overlap: int = 128,
    alpha: float = 1.0,
    cache_ram_bytes: int = 256 * 2**20,
) -> torch.Tensor:
    """Stylize one (3, H, W) image (uint8 or float in [0, 1]) tile by tile; (3, H, W) float on the CPU.

    Pass 1 encodes every tile, pools relu4_1 sums over the tile's core region (the part no other
    tile owns) and caches the tile's features (to disk beyond `cache_ram_bytes`); pass 2 applies
    AdaIN with the whole image's statistics and decodes, tiles blended with ramps centred on the
    middle of each overlap. `overlap` should cover the encoder's and decoder's reach (~100 px).
    """
    device = next(model.parameters()).device
    stride = model.stride
    height, width = image.shape[-2:]
    padded = model.pad(image[None])[0]  # as the untiled forward pads, so both see the same pixels
    padded_h, padded_w = padded.shape[-2:]
    tile_h, tile_w = min(round_up(tile_size, stride), padded_h), min(round_up(tile_size, stride), padded_w)
    overlap = round_up(overlap, stride)
    rows, cols = tile_starts(padded_h, tile_h, overlap), tile_starts(padded_w, tile_w, overlap)
    row_cores = dict(zip(rows, core_bounds(rows, tile_h, padded_h, stride), strict=True))
    col_cores = dict(zip(cols, core_bounds(cols, tile_w, padded_w, stride), strict=True))
    tiles = [(top, left) for top in rows for left in cols]
    cache = TileCache(cache_ram_bytes)
    total = total_sq = None
    count = 0
    with torch.no_grad():
        for index, (top, left) in enumerate(tiles):
            crop = padded[:, top : top + tile_h, left : left + tile_w][None].to(device)
            crop = crop.float().div_(255.0) if crop.dtype == torch.uint8 else crop
            features = model.encode(crop)[ENCODER_LAYER]
            (row_low, row_high), (col_low, col_high) = row_cores[top], col_cores[left]
            core = features[0, :, (row_low - top) // stride : (row_high - top) // stride]
            core = core[:, :, (col_low - left) // stride : (col_high - left) // stride].double().flatten(1)
            total = core.sum(1) if total is None else total + core.sum(1)
            total_sq = core.square().sum(1) if total_sq is None else total_sq + core.square().sum(1)
            count += core.shape[1]
            cache.put(index, features[0].cpu(), len(tiles))
        mean = total / count
        variance = (total_sq / count - mean.square()).clamp_min(0)  # population variance, as channel_stats
        whole = ChannelStats(mean.float()[None], (variance + EPS).sqrt().float()[None])

        blended = torch.zeros(3, padded_h, padded_w)
        weights = torch.zeros(1, padded_h, padded_w)
        for index, (top, left) in enumerate(tiles):
            features = cache.get(index)[None].to(device)
            target = adaptive_instance_norm(features, style, alpha, content_stats=whole)
            stylized = model.decode(target.to(features.dtype))[0].float().cpu()
            weight = (
                ramp(top, tile_h, row_cores[top], padded_h, overlap // 4)[:, None]
                * ramp(left, tile_w, col_cores[left], padded_w, overlap // 4)[None, :]
            )
            region = (slice(None), slice(top, top + tile_h), slice(left, left + tile_w))
            blended[region].addcmul_(stylized, weight.expand_as(stylized))
            weights[region].add_(weight)
    cache.close()
    return blended.div_(weights)[:, :height, :width]
