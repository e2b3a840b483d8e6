"""One Gatys/Luan job from files to files: read, set targets, optimise, write result and losses.

`optimize.py` calls `run` with the values of `conf/optimize.yaml`; everything about images and
tensors between reading and writing lives here, not in the entry point.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from pathlib import Path

import torch
import torch.nn.functional as F

from fst.device import resolve_device
from fst.io.images import load_rgb, pil_to_tensor, save_image_atomic, tensor_to_pil
from fst.losses.perceptual import PerceptualLoss
from fst.optimize import color
from fst.optimize.gatys import Init, OptimizerFactory, initial_image, optimize_pixels
from fst.optimize.masks import load_region_masks
from fst.optimize.matting import PhotorealismLoss

log = logging.getLogger(__name__)


def load_image(path: str | Path, long_side: int | None) -> torch.Tensor:
    """A (1, 3, H, W) image with its long side resized (up or down) to `long_side`, aspect kept."""
    tensor = pil_to_tensor(load_rgb(path))[None]
    if long_side is None or max(tensor.shape[-2:]) == long_side:
        return tensor
    scale = long_side / max(tensor.shape[-2:])
    size = [max(1, round(s * scale)) for s in tensor.shape[-2:]]
    return F.interpolate(tensor, size=size, mode="bicubic", antialias=True, align_corners=False).clamp(0, 1)


def run(
    loss: PerceptualLoss,
    optimizer: OptimizerFactory,
    content: str,
    styles: Sequence[str],
    output: str,
    style_blend: Sequence[float] | None = None,
    image_size: int | None = 512,
    style_scale: float = 1.0,
    iterations: int = 500,
    init: Init = "content",
    init_noise_ratio: float = 0.5,
    save_every: int = 0,
    preserve_color: bool = False,
    content_segmentation: str | None = None,
    style_segmentations: Sequence[str] | None = None,
    photorealism_weight: float = 0.0,
    seed: int = 0,
    device: str = "auto",
    autocast: bool = False,
    progress: bool = True,
) -> tuple[torch.Tensor, list[dict[str, float]]]:
    """Stylise `content` with `styles` and write `output`, `<stem>_iterNNNN.png` and `<stem>_losses.json`.

    Args:
        image_size: long side of the output in pixels (any aspect ratio); None keeps the content's.
        style_scale: style long side = style_scale x output long side (bigger: larger brush strokes).
        save_every: write the current image every this many iterations (0: only the result).
        preserve_color: luminance-only transfer, then the content's colours (Gatys et al. 2016).
        content_segmentation, style_segmentations: colour-coded masks (one per style) for
            semantic style transfer; both or neither.
        photorealism_weight: weight of the Matting Laplacian term (Luan et al.); 0 disables it.
    """
    torch.manual_seed(seed)
    target = resolve_device(device)
    if (content_segmentation is None) != (style_segmentations is None):
        raise ValueError("give content_segmentation and style_segmentations together, or neither")
    content_image = load_image(content, image_size)
    long_side = max(content_image.shape[-2:])
    # The style is scaled relative to the output so `style_scale` means the same at every size.
    style_images = [load_image(path, round(style_scale * long_side)) for path in styles]
    loss.style_size = None  # sizes are set here; the training loss's style_size would override them
    loss = loss.to(target)

    masks = None
    if style_segmentations is not None:
        if len(style_segmentations) != len(style_images):
            raise ValueError(f"{len(style_images)} styles but {len(style_segmentations)} style segmentations")
        regions = [
            load_region_masks(content_segmentation, path, content_image.shape[-2:], style.shape[-2:])
            for path, style in zip(style_segmentations, style_images, strict=True)
        ]
        if len({tuple(r.colors) for r in regions}) != 1:
            raise ValueError("content regions differ between styles")  # same content mask, cannot happen
        loss.set_content_masks(regions[0].content.to(target))
        masks = [r.style.to(target) for r in regions]

    content_for_loss, style_for_loss = content_image, style_images
    if preserve_color:
        content_for_loss = color.luminance(content_image)
        style_for_loss = [color.match_luminance(style, content_image) for style in style_images]
    content_for_loss = content_for_loss.to(target)
    loss.set_style([s.to(target) for s in style_for_loss], style_blend, masks=masks)
    loss.set_content(content_for_loss)

    extra = {}
    if photorealism_weight > 0:
        extra["photorealism"] = PhotorealismLoss(content_for_loss, photorealism_weight)

    out_path = Path(output)
    finish = (lambda img: color.recombine(img.cpu(), content_image)) if preserve_color else (lambda img: img.cpu())

    def save_intermediate(iteration: int, image: torch.Tensor) -> None:
        if save_every and iteration % save_every == 0 and iteration < iterations:
            save_image_atomic(
                tensor_to_pil(finish(image)[0]),
                out_path.with_name(f"{out_path.stem}_iter{iteration:04d}.png"),
            )

    start = initial_image(content_for_loss, init, init_noise_ratio, seed)
    result, history = optimize_pixels(
        loss, start, optimizer, iterations, extra, save_intermediate, autocast=autocast, progress=progress
    )
    result = finish(result)
    save_image_atomic(tensor_to_pil(result[0]), out_path)
    out_path.with_name(f"{out_path.stem}_losses.json").write_text(json.dumps(history))
    log.info(
        "wrote %s; total loss %.4g -> %.4g over %d iterations",
        out_path,
        history[0]["total"],
        history[-1]["total"],
        iterations,
    )
    return result, history
