"""`StyleTransferModule`: one training step of the transform net against the perceptual loss."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from pathlib import Path

import lightning as L
import torch
from torchvision.utils import make_grid

from fst.io.images import load_rgb, load_tensor
from fst.losses.perceptual import PerceptualLoss
from fst.losses.targets import StyleTarget
from fst.models.transformer import TransformerNet

log = logging.getLogger(__name__)


def file_sha256(path: str | Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


class StyleTransferModule(L.LightningModule):
    """Trains `net` so that net(photo) has the photo's content and the style image's style.

    Args:
        net: the transform network being trained.
        loss: perceptual loss; its frozen VGG is never saved in checkpoints.
        optimizer: partial optimizer (Hydra `_partial_: true`) that takes the parameters.
        style_image: path of the style image.
        style_name: short name written into the exported file's metadata.
        log_images_every_n_steps: how often a (content | stylized) grid goes to the logger.
        channels_last: run the net and VGG in NHWC memory layout (faster convolutions on tensor
            cores and oneDNN; results equal up to float rounding).
    """

    def __init__(
        self,
        net: TransformerNet,
        loss: PerceptualLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        style_image: str,
        style_name: str | None = None,
        log_images_every_n_steps: int = 500,
        channels_last: bool = False,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        self.net = net
        self.loss = loss
        self.optimizer_factory = optimizer
        self.style_image = str(style_image)
        self.style_name = style_name or Path(style_image).stem
        self.log_images_every_n_steps = log_images_every_n_steps
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.skipped_steps = 0
        self.style_target: StyleTarget | None = None  # Gram targets, built on the training device
        load_rgb(style_image)  # fail now, in one line, rather than after the data loaders start
        self.style_sha256 = file_sha256(style_image)

    def state_dict(self, *args, **kwargs):
        # The frozen VGG is rebuilt from its weights file; checkpoints hold only what trains.
        state = super().state_dict(*args, **kwargs)
        return {k: v for k, v in state.items() if not k.startswith("loss.")}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        state_dict = {k: v for k, v in state_dict.items() if not k.startswith("loss.")}
        return self.net.load_state_dict(
            {k.removeprefix("net."): v for k, v in state_dict.items()}, strict=strict, assign=assign
        )

    def _ensure_style_target(self) -> None:
        # Here rather than in __init__: only now is the module on its final device.
        if self.style_target is None:
            style = load_tensor(self.style_image).unsqueeze(0).to(self.device)
            self.style_target = self.loss.style_target(style)

    def on_fit_start(self) -> None:
        self.net.to(memory_format=self.memory_format)
        self.loss.to(memory_format=self.memory_format)
        self._ensure_style_target()

    def on_validation_start(self) -> None:
        self._ensure_style_target()

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.net(content)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        batch = batch.contiguous(memory_format=self.memory_format)
        stylized = self.net(batch)
        terms = self.loss(stylized, batch, self.style_target)
        self.log_dict({f"train/{k}": v.detach() for k, v in terms.items()}, prog_bar=False)
        self.log("loss", terms["total"].detach(), prog_bar=True, logger=False)
        if self.global_step % self.log_images_every_n_steps == 0:
            self._log_grid("train/images", batch, stylized)
        return terms["total"]

    def on_before_optimizer_step(self, optimizer: torch.optim.Optimizer) -> None:
        # One non-finite gradient would turn every weight into NaN through Adam and end the run
        # (seen once on CPU in bf16). Skip that step instead, and say so. The gradients become
        # None, not zero: torch optimizers pass over a parameter without a gradient entirely,
        # while a zero gradient still lets Adam move it from its moments and advance its step.
        # (This hook runs inside optimizer.step's closure, so the step cannot be cancelled.)
        parameters = [p for p in self.net.parameters() if p.grad is not None]
        norms = torch._foreach_norm([p.grad for p in parameters]) if parameters else []
        if parameters and not torch.isfinite(torch.stack(norms)).all():
            self.skipped_steps += 1
            for parameter in parameters:
                parameter.grad = None
            log.warning(
                "non-finite gradient at step %d: step skipped (%d so far)", self.global_step, self.skipped_steps
            )
        self.log("train/skipped_steps", float(self.skipped_steps))

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        stylized = self.net(batch)
        terms = self.loss(stylized, batch, self.style_target)
        self.log_dict({f"val/{k}": v for k, v in terms.items()}, sync_dist=True, batch_size=len(batch))
        if batch_idx == 0:
            self._log_grid("val/images", batch, stylized)

    def _log_grid(self, tag: str, content: torch.Tensor, stylized: torch.Tensor) -> None:
        """Log a grid whose rows are (content | stylized) pairs."""
        experiment = getattr(self.logger, "experiment", None)
        if self.global_rank != 0 or not hasattr(experiment, "add_image"):
            return
        pairs = torch.stack([content[:4], stylized[:4].detach()], dim=1).flatten(0, 1).float().clamp(0, 1)
        experiment.add_image(tag, make_grid(pairs, nrow=2, padding=2), self.global_step)

    def configure_optimizers(self) -> torch.optim.Optimizer:
        return self.optimizer_factory(self.net.parameters())
