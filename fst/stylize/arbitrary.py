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
from pathlib import Path

import torch
from torch import nn

from fst import zoo
from fst.checkpoint import CheckpointError, load_adain
from fst.io.images import load_tensor
from fst.models.adain import BORDER, ENCODER_LAYER, EPS, AdaINModel, ChannelStats, adaptive_instance_norm, blend_stats
from fst.stylize.options import StylizeOptions
from fst.stylize.stylizer import Stylizer
from fst.stylize.tiling import TileCache, core_bounds, ramp, round_up, tile_starts

DEFAULT_MODEL = zoo.CHECKPOINT_DIR / "adain.safetensors"


class StyledAdaIN(nn.Module):
    """An `AdaINModel` with its style fixed: (N, 3, H, W) content in [0, 1] -> stylized, same size.

    The style statistics and alpha are buffers, not constants of the forward: one compiled package
    (`fst.stylize.compiled`) then serves every style image, mix and alpha, loaded like weights.
    """

    def __init__(self, model: AdaINModel, style: ChannelStats, alpha: float = 1.0) -> None:
        super().__init__()
        if not 0.0 <= alpha <= 1.0:
            raise ValueError(f"--alpha must be in [0, 1], got {alpha}")
        self.model = model
        # The reflected margin needs a side over `BORDER`: smaller images are padded up to this.
        self.stride, self.min_size, self.border = model.stride, 2 * BORDER, BORDER
        self.register_buffer("style_mean", style.mean)
        self.register_buffer("style_std", style.std)
        # One alpha per channel, (1, C, 1, 1): AOTInductor inlines a one-element buffer as a number
        # at build time (measured: every alpha then ran as the one the package was built with).
        self.register_buffer("alpha_tensor", torch.full_like(style.mean[..., None, None], float(alpha)))

    @property
    def alpha(self) -> float:
        return float(self.alpha_tensor.flatten()[0])

    @property
    def style(self) -> ChannelStats:
        return ChannelStats(self.style_mean, self.style_std)

    def architecture(self) -> dict:
        """What a compiled package depends on: the model's shape (weights, style and alpha are loaded)."""
        return {"model": "adain", **self.model.architecture()}

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """To a multiple of the stride, at least `min_size` (the forward adds the margin itself)."""
        return self.model.pad(x, min_size=self.min_size)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        # To the stride first, then the margin: what the compiled path does (its input comes padded).
        height, width = content.shape[-2:]
        stylized = self.model(self.pad(content), self.style, self.alpha_tensor, border=self.border)
        return stylized[..., :height, :width]


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
    """`Stylizer` for `StyledAdaIN`: compiled for whole images as the style nets are; its own tiling.

    Whole images are capped for memory: encoder and decoder run 64 channels at full resolution
    (the style nets 32). Measured peak RSS in bf16 on CPU: eager 0.7 GB per megapixel (1.5 GB at
    0.8 MP, 3.0 GB at 3.1 MP), compiled about half (1.6 GB at 3.1 MP); larger images go to tiles.
    """

    EAGER_MAX_PIXELS = 2_000_000
    COMPILED_MAX_PIXELS = 4_000_000
    net: StyledAdaIN

    def whole_image_limit(self, compiled: bool) -> int:
        cap = self.COMPILED_MAX_PIXELS if compiled else self.EAGER_MAX_PIXELS
        return min(self.options.max_pixels, cap)

    def _run_tiles(self, image: torch.Tensor, tile_size: int) -> torch.Tensor:
        net, (height, width) = self.net, image.shape[-2:]
        padded = net.pad(image[None])[0]  # as the untiled forward: to the stride, then the margin
        stylized = stylize_tiled(
            net.model, net.style, padded, tile_size, self.options.overlap, net.alpha, border=net.border
        )
        return stylized[:, :height, :width]


def stylize_tiled(
    model: AdaINModel,
    style: ChannelStats,
    image: torch.Tensor,
    tile_size: int = 1024,
    overlap: int = 128,
    alpha: float = 1.0,
    cache_ram_bytes: int = 256 * 2**20,
    border: int = 0,
) -> torch.Tensor:
    """Stylize one (3, H, W) image (uint8 or float in [0, 1]) tile by tile; (3, H, W) float on the CPU.

    Pass 1 encodes every tile, pools relu4_1 sums over the tile's core region (the part no other
    tile owns) and caches the tile's features (to disk beyond `cache_ram_bytes`); pass 2 applies
    AdaIN with the whole image's statistics and decodes, tiles blended with ramps centred on the
    middle of each overlap. `overlap` should cover the encoder's and decoder's reach (~100 px).
    `border`: the reflected margin of `AdaINModel.forward`, added to the whole image first.
    """
    device = next(model.parameters()).device
    stride = model.stride
    height, width = image.shape[-2:]
    padded = model.pad(image[None], border)[0]  # as the untiled forward pads: both see the same pixels
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
    return blended.div_(weights)[:, border : border + height, border : border + width]
