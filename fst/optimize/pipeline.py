"""One Gatys/Luan job from files to files: read, build the objective, optimise, write.

`optimize.py` instantiates an `OptimizeJob` from `fst/conf/optimize.yaml`'s `run` and calls `run`;
everything about images and tensors between reading and writing lives here, one step a function.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path

import torch

from fst import color
from fst.device import resolve_device
from fst.io.images import load_tensor, save_image_atomic, tensor_to_pil
from fst.losses.perceptual import PerceptualLoss
from fst.losses.targets import StyleTarget
from fst.optimize.gatys import Init, Objective, OptimizerFactory, initial_image, optimize_pixels
from fst.optimize.masks import load_region_masks
from fst.optimize.matting import PhotorealismLoss

log = logging.getLogger(__name__)


@dataclass
class OptimizeJob:
    """One optimisation job, as `fst/conf/optimize.yaml`'s `run` describes it.

    Args:
        styles: style image paths; `style_blend` gives one weight each (None: equal).
        image_size: long side of the output in pixels (any aspect ratio); None keeps the content's.
        style_scale: style long side = style_scale x output long side (bigger: larger brush strokes).
        init_noise_ratio: the noise share of `init: mix`.
        save_every: write the current image every this many iterations (0: only the result).
        preserve_color: luminance-only transfer, then the content's colours (Gatys et al. 2016).
        content_segmentation, style_segmentations: colour-coded masks (one per style) for
            semantic style transfer; both or neither.
        photorealism_weight: weight of the Matting Laplacian term (Luan et al.); 0 disables it.
        first_pass_iterations: Luan et al.'s two passes: this many iterations without the
            photorealism term first, then `iterations` with it, started from the first pass's
            image (0: one pass).
        autocast: bf16 VGG (Gram matrices and losses stay fp32).
    """

    content: str
    styles: list[str]
    output: str
    style_blend: list[float] | None = None
    image_size: int | None = 512
    style_scale: float = 1.0
    iterations: int = 500
    init: Init = "content"
    init_noise_ratio: float = 0.5
    save_every: int = 0
    preserve_color: bool = False
    content_segmentation: str | None = None
    style_segmentations: list[str] | None = None
    photorealism_weight: float = 0.0
    first_pass_iterations: int = 0
    seed: int = 0
    device: str = "auto"
    autocast: bool = False
    progress: bool = True

    def __post_init__(self) -> None:
        if (self.content_segmentation is None) != (self.style_segmentations is None):
            raise ValueError("give content_segmentation and style_segmentations together, or neither")
        if self.style_segmentations is not None and len(self.style_segmentations) != len(self.styles):
            raise ValueError(f"{len(self.styles)} styles but {len(self.style_segmentations)} style segmentations")


def load_images(job: OptimizeJob) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The content (1, 3, H, W) at `image_size`, and each style scaled relative to it."""
    content = load_tensor(job.content, job.image_size)[None]
    # Relative to the output, so `style_scale` means the same at every size.
    style_side = round(job.style_scale * max(content.shape[-2:]))
    return content, [load_tensor(path, style_side)[None] for path in job.styles]


def style_target(
    job: OptimizeJob, loss: PerceptualLoss, content: torch.Tensor, styles: list[torch.Tensor], device: torch.device
) -> StyleTarget:
    """Plain or blended Gram targets, or per-region ones when segmentations are given."""
    styles = [style.to(device) for style in styles]
    if job.style_segmentations is None:
        return loss.style_target(styles, job.style_blend)
    regions = [
        load_region_masks(job.content_segmentation, path, content.shape[-2:], style.shape[-2:])
        for path, style in zip(job.style_segmentations, styles, strict=True)
    ]
    style_masks = [r.style.to(device) for r in regions]
    return loss.region_style_target(styles, style_masks, regions[0].content.to(device), job.style_blend)


def objective(
    job: OptimizeJob, loss: PerceptualLoss, content: torch.Tensor, styles: list[torch.Tensor], device: torch.device
) -> tuple[Objective, torch.Tensor]:
    """The objective for `job`, and the image (on `device`) that the content term holds on to.

    With `preserve_color` the transfer runs on luminance only (the colours come back when the
    result is written), so that image is the content's grey copy.
    """
    content_for_loss = content
    if job.preserve_color:
        content_for_loss = color.grey(content)
        styles = [color.match_luminance(style, content) for style in styles]
    content_for_loss = content_for_loss.to(device)
    extra = {}
    if job.photorealism_weight > 0:
        extra["photorealism"] = PhotorealismLoss(content_for_loss, job.photorealism_weight)
    target = style_target(job, loss, content, styles, device)
    return Objective(loss, loss.content_target(content_for_loss), target, extra, job.autocast), content_for_loss


def run(job: OptimizeJob, loss: PerceptualLoss, optimizer: OptimizerFactory) -> tuple[torch.Tensor, list[dict]]:
    """Optimise `job` and write `output`, `<stem>_iterNNNN.png` and `<stem>_losses.json`.

    Returns:
        the result (1, 3, H, W) on the CPU and the loss terms before each iteration and at the end.
    """
    torch.manual_seed(job.seed)
    device = resolve_device(job.device)
    loss = loss.to(device)
    content, styles = load_images(job)
    goal, content_for_loss = objective(job, loss, content, styles, device)
    out_path = Path(job.output)

    def finish(image: torch.Tensor) -> torch.Tensor:
        image = image.cpu()
        return color.preserve_color(content, image) if job.preserve_color else image

    def save_intermediate(iteration: int, image: torch.Tensor) -> None:
        if job.save_every and iteration % job.save_every == 0 and iteration < job.iterations:
            save_image_atomic(
                tensor_to_pil(finish(image)[0]), out_path.with_name(f"{out_path.stem}_iter{iteration:04d}.png")
            )

    start = initial_image(content_for_loss, job.init, job.init_noise_ratio, job.seed)
    first: list[dict] = []
    if job.first_pass_iterations > 0:
        # Luan et al.'s first pass: the style (by region) without the photorealism term; its image
        # starts the second. Its last record is the second pass's first, so it is dropped.
        plain = Objective(goal.loss, goal.content, goal.style, {}, goal.autocast)
        start, first = optimize_pixels(plain, start, optimizer, job.first_pass_iterations, progress=job.progress)
        first = first[:-1]
    result, history = optimize_pixels(goal, start, optimizer, job.iterations, save_intermediate, progress=job.progress)
    history = first + history
    result = finish(result)
    save_image_atomic(tensor_to_pil(result[0]), out_path)
    out_path.with_name(f"{out_path.stem}_losses.json").write_text(json.dumps(history))
    log.info(
        "wrote %s; total loss %.4g -> %.4g over %d iterations",
        out_path,
        history[0]["total"],
        history[-1]["total"],
        job.first_pass_iterations + job.iterations,
    )
    return result, history
