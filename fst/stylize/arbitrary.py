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
from fst.models.wct import (
    FeatureCovariance,
    StyleColouring,
    covariance_from_sums,
    covariance_transfer,
    style_colouring,
)
from fst.stylize.options import StyleChoice, check_share
from fst.stylize.progress import Progress
from fst.stylize.stylizer import Stylizer
from fst.stylize.tiling import CACHE_RAM_BYTES, Tiles, stylize_in_tiles

DEFAULT_MODEL = zoo.CHECKPOINT_DIR / "adain.safetensors"


class StyledAdaIN(nn.Module):
    """An `AdaINModel` with its style fixed: (N, 3, H, W) content in [0, 1] -> stylized, same size.

    The style statistics, alpha and the WCT share are buffers, not constants of the forward: one
    compiled package (`fst.stylize.compiled`) then serves every style image, mix and alpha, loaded
    like weights. A `StyleColouring` style (`--wct`) mixes in the whitening-colouring target.
    """

    def __init__(
        self, model: AdaINModel, style: ChannelStats | StyleColouring, alpha: float = 1.0, wct: float = 0.0
    ) -> None:
        super().__init__()
        check_share("alpha", alpha)
        check_share("wct", wct)
        self.uses_wct = isinstance(style, StyleColouring)
        if wct and not self.uses_wct:
            raise ValueError("a WCT share needs the style's colouring matrix (fst.models.wct.style_colouring)")
        self.model = model
        # The reflected margin needs a side over `BORDER`: smaller images are padded up to this.
        self.stride, self.min_size, self.border = model.stride, 2 * BORDER, BORDER
        stats = style.channel_stats() if isinstance(style, StyleColouring) else style
        self.register_buffer("style_mean", stats.mean)
        self.register_buffer("style_std", stats.std)
        # One alpha per channel, (1, C, 1, 1): AOTInductor inlines a one-element buffer as a number
        # at build time (measured: every alpha then ran as the one the package was built with).
        self.register_buffer("alpha_tensor", torch.full_like(stats.mean[..., None, None], float(alpha)))
        if isinstance(style, StyleColouring):
            self.register_buffer("style_colour", style.colour.double())
            self.register_buffer("wct_tensor", torch.full_like(self.alpha_tensor, float(wct)))

    @property
    def alpha(self) -> float:
        return float(self.alpha_tensor.flatten()[0])

    @property
    def wct(self) -> float:
        return float(self.wct_tensor.flatten()[0]) if self.uses_wct else 0.0

    @property
    def style(self) -> ChannelStats | StyleColouring:
        if self.uses_wct:
            return StyleColouring(self.style_mean.double(), self.style_colour)
        return ChannelStats(self.style_mean, self.style_std)

    def architecture(self) -> dict:
        """What a compiled package depends on: the model's shape (weights, style and alpha are loaded)."""
        return {"model": "adain", **self.model.architecture(), **({"transfer": "adain+wct"} if self.uses_wct else {})}

    def pad(self, x: torch.Tensor) -> torch.Tensor:
        """To a multiple of the stride, at least `min_size` (the forward adds the margin itself)."""
        return self.model.pad(x, min_size=self.min_size)

    def transfer(self, features: torch.Tensor, content_stats: FeatureCovariance | None = None) -> torch.Tensor:
        """The relu4_1 target of content features; `content_stats`: the whole image's, for a tile."""
        if self.uses_wct:
            return covariance_transfer(features, self.style, self.wct_tensor, self.alpha_tensor, content_stats)
        own = content_stats.channel_stats() if content_stats is not None else None
        return adaptive_instance_norm(features, self.style, self.alpha_tensor, own)

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        # To the stride first, then the margin: what the compiled path does (its input comes padded).
        height, width = content.shape[-2:]
        stylized = self.model.stylize(self.pad(content), self.transfer, border=self.border)
        return stylized[..., :height, :width]


def style_name(paths: Sequence[Path], weights: Sequence[float] | None) -> str:
    """Output folder name of a style mix: `the_scream`, or `a-70+b-30` (as `--style` mixes)."""
    weights = list(weights) if weights is not None else [1.0] * len(paths)
    return zoo.mix_name({Path(p).stem: w for p, w in zip(paths, weights, strict=True)})


def styled(
    model: AdaINModel,
    images: Sequence[torch.Tensor],
    weights: Sequence[float] | None = None,
    alpha: float = 1.0,
    wct: float = 0.0,
) -> StyledAdaIN:
    """`model` with the style of these (1, 3, H, W) images fixed, mixed by `weights`; `wct` > 0
    encodes their covariances too (`StyleColouring`)."""
    with torch.inference_mode():
        if wct:
            styles = [style_colouring(model.encode(model.pad(image))[ENCODER_LAYER]) for image in images]
        else:
            styles = [model.style_stats(image) for image in images]
        style = blend_stats(styles, weights)
    # Clone out of inference mode: these become buffers moved with the net.
    return StyledAdaIN(model, type(style)(*(t.clone() for t in style)), alpha, wct)


def load(choice: StyleChoice) -> tuple[StyledAdaIN, dict]:
    """The model of `choice.checkpoints` (default: the shipped one) with its style images encoded.

    Raises:
        CheckpointError: no model, or a file that is not one (one line).
        ImageReadError: a style image that cannot be read (one line naming it).
    """
    path = Path(choice.checkpoints[0]) if choice.checkpoints else DEFAULT_MODEL
    if not path.is_file() and path == DEFAULT_MODEL:
        raise CheckpointError(
            f"no arbitrary-style model is shipped yet ({path}); train one with `python train.py experiment=adain` "
            "and pass its export (runs/adain/<run>/checkpoints/adain.safetensors) as the model"
        )
    model, metadata = load_adain(path)
    images = [load_tensor(p, long_side=choice.style_size)[None] for p in choice.style_images]
    net = styled(model, images, choice.style_weights, choice.alpha, choice.wct)
    return net, {**metadata, "name": style_name(choice.style_images, choice.style_weights), "format": "fst-adain"}


class ArbitraryStylizer(Stylizer):
    """`Stylizer` for `StyledAdaIN`: compiled for whole images as the style nets are; its own tiling.

    Whole images are capped for memory: encoder and decoder run 64 channels at full resolution
    (the style nets 32). Measured peak RSS in bf16 on CPU: eager 0.7 GB per megapixel (1.5 GB at
    0.8 MP, 3.0 GB at 3.1 MP), compiled about half (1.6 GB at 3.1 MP); larger images go to tiles.
    """

    EAGER_MAX_PIXELS = 2_000_000
    COMPILED_MAX_PIXELS = 4_000_000
    default_form_size = 0  # the forms pass is not measured for AdaIN: one pass unless asked
    net: StyledAdaIN

    def whole_image_limit(self, compiled: bool) -> int:
        cap = self.COMPILED_MAX_PIXELS if compiled else self.EAGER_MAX_PIXELS
        return cap if self.tiling.max_pixels is None else min(self.tiling.max_pixels, cap)

    def _run_tiles(self, image: torch.Tensor, tile_size: int, progress: Progress | None = None) -> torch.Tensor:
        net, (height, width) = self.net, image.shape[-2:]
        padded = net.pad(image[None])[0]  # as the untiled forward: to the stride, then the margin
        stylized = stylize_tiled(
            net.model,
            net.style,
            padded,
            tile_size,
            self.tiling.overlap,
            net.alpha,
            border=net.border,
            wct=net.wct,
            progress=progress,
        )
        return stylized[:, :height, :width]


class PooledAdaINTiles:
    """An `AdaINModel` with a fixed style as a `TiledModel`: relu4_1 statistics pooled over the tiles.

    The statistics pass encodes every tile, pools relu4_1 sums over the tile's core region (the
    part no other tile owns) and caches the tile's features; each tile is then decoded from the
    transfer with the whole image's statistics. A `StyleColouring` style pools the channel
    covariance too and mixes in `wct` of the WCT target. `border`: the reflected margin of
    `AdaINModel.forward`, added to the whole image first.
    """

    def __init__(
        self, model: AdaINModel, style: ChannelStats | StyleColouring, alpha: float, wct: float, border: int
    ) -> None:
        self.model, self.style, self.alpha, self.wct, self.border = model, style, alpha, wct, border
        self.stride = model.stride
        self.device = next(model.parameters()).device
        self.whole: ChannelStats | FeatureCovariance | None = None

    def pad(self, image: torch.Tensor) -> tuple[torch.Tensor, int]:
        return self.model.pad(image[None], self.border)[0], self.border  # as the untiled forward pads

    def statistics_share(self, tiles: Tiles) -> float:
        return 0.5  # encoding every tile, then decoding every tile: about as many multiply-adds

    def pool_statistics(self, tiles: Tiles, progress: Progress | None = None) -> None:
        covariance = isinstance(self.style, StyleColouring)
        total = total_sq = None  # per channel; total_sq is the outer products' sum with a covariance
        count = 0
        chunks = tiles.chunks()
        for done, chunk in enumerate(chunks, 1):
            features = self.model.encode(tiles.crops(chunk))[ENCODER_LAYER]
            for i, tile_features, (top, bottom, left, right) in zip(
                chunk, features, tiles.core_boxes(chunk), strict=True
            ):
                core = tile_features[:, top // self.stride : bottom // self.stride]
                core = core[:, :, left // self.stride : right // self.stride].double().flatten(1)
                squares = core @ core.T if covariance else core.square().sum(1)
                total = core.sum(1) if total is None else total + core.sum(1)
                total_sq = squares if total_sq is None else total_sq + squares
                count += core.shape[1]
                tiles.cache.put(i, tile_features.cpu(), len(tiles))
            if progress:
                progress(done / len(chunks))
        if covariance:
            self.whole = covariance_from_sums(total[None], total_sq[None], count)
        else:
            mean = total[None] / count
            variance = (total_sq[None] / count - mean.square()).clamp_min(0)  # population, as channel_stats
            self.whole = ChannelStats(mean.float(), (variance + EPS).sqrt().float())

    def stylize_tiles(self, tiles: Tiles, chosen: list[int]) -> torch.Tensor:
        features = torch.stack([tiles.cache.get(i) for i in chosen]).to(self.device)
        if isinstance(self.whole, FeatureCovariance):
            target = covariance_transfer(features, self.style, self.wct, self.alpha, content_stats=self.whole)
        else:
            target = adaptive_instance_norm(features, self.style, self.alpha, content_stats=self.whole)
        return self.model.decode(target.to(features.dtype))


def stylize_tiled(
    model: AdaINModel,
    style: ChannelStats | StyleColouring,
    image: torch.Tensor,
    tile_size: int = 1024,
    overlap: int = 128,
    alpha: float = 1.0,
    cache_ram_bytes: int = CACHE_RAM_BYTES,
    border: int = 0,
    wct: float = 0.0,
    progress: Progress | None = None,
) -> torch.Tensor:
    """The AdaIN model on one (3, H, W) image in tiles with whole-image statistics; (3, H, W) on the CPU.

    `overlap` should cover the encoder's and decoder's reach (~100 px); see
    `fst.stylize.tiling.stylize_in_tiles` for the rest.
    """
    tiled = PooledAdaINTiles(model, style, alpha, wct, border)
    return stylize_in_tiles(tiled, image, tile_size, overlap, cache_ram_bytes=cache_ram_bytes, progress=progress)
