"""Lightning module for arbitrary style transfer: one AdaIN training step on (content, style) pairs."""

from __future__ import annotations

from collections.abc import Callable

import lightning as L
import torch
from torchvision.utils import make_grid

from fst.checkpoint import load_adain
from fst.losses.adain import AdaINLoss
from fst.models.adain import ENCODER_LAYER, AdaINModel, adaptive_instance_norm, stats_of
from fst.training.style_module import StyleTransferModule


class AdaINModule(L.LightningModule):
    """Trains the decoder of an `AdaINModel`; the VGG encoder stays frozen.

    Args:
        net: the model; only its decoder trains (and only the decoder enters Lightning checkpoints).
        loss: content and style terms on encoder features.
        optimizer: partial optimizer (Hydra `_partial_: true`) that takes the parameters.
        lr_decay: the paper's inverse-time decay, lr_t = lr / (1 + lr_decay * t) (0: constant).
        name: names the run and the exported file.
        log_images_every_n_steps: how often a (content | style | output) grid goes to the logger.
        channels_last: NHWC convolutions (faster on GPUs and oneDNN CPUs).
        init_from: an exported AdaIN file whose decoder to start from (a warm start: new
            loss weights or data without retraining from scratch; the optimizer starts fresh).
    """

    def __init__(
        self,
        net: AdaINModel,
        loss: AdaINLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        lr_decay: float = 5e-5,
        name: str = "adain",
        log_images_every_n_steps: int = 500,
        channels_last: bool = False,
        init_from: str | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        self.net, self.loss, self.optimizer_factory = net, loss, optimizer
        self.lr_decay, self.style_name = lr_decay, name
        self.log_images_every_n_steps = log_images_every_n_steps
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.skipped_steps = 0
        if init_from:
            source, metadata = load_adain(init_from)
            if metadata["architecture"] != net.architecture():
                raise ValueError(f"{init_from}: decoder {metadata['architecture']} differs from {net.architecture()}")
            self.net.decoder.load_state_dict(source.decoder.state_dict())

    def state_dict(self, *args, **kwargs):
        # The frozen encoder is rebuilt from the VGG file: Lightning checkpoints hold the decoder.
        state = super().state_dict(*args, **kwargs)
        return {k: v for k, v in state.items() if not k.startswith("net.encoder.")}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        decoder = {k.removeprefix("net.decoder."): v for k, v in state_dict.items() if k.startswith("net.decoder.")}
        return self.net.decoder.load_state_dict(decoder, strict=strict, assign=assign)

    def style_metadata(self) -> dict:
        """What the exported file says about itself (read by `fst.checkpoint.load_adain`)."""
        return {"model": "adain", "name": self.style_name}

    def on_fit_start(self) -> None:
        self.net.to(memory_format=self.memory_format)

    def stylize_pair(self, content: torch.Tensor, style: torch.Tensor) -> dict[str, torch.Tensor]:
        """Output and loss terms for a batch of (content, style) pairs, each style with its content."""
        content = content.contiguous(memory_format=self.memory_format)
        style = style.contiguous(memory_format=self.memory_format)
        with torch.no_grad():  # the encoder is frozen: no graph through the inputs' features
            content_features = self.net.encode(content)[ENCODER_LAYER]
            style_stats = stats_of(self.net.encode(style, self.loss.style_layers))
            target = adaptive_instance_norm(content_features, style_stats[ENCODER_LAYER])
        output = self.net.decode(target.to(content_features.dtype))
        terms = self.loss(self.net.encode(output, self.loss.layers), target, style_stats)
        return {"output": output, **terms}

    def training_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> torch.Tensor:
        content, style = batch
        result = self.stylize_pair(content, style)
        output = result.pop("output")
        self.log_dict({f"train/{k}": v.detach() for k, v in result.items()})
        self.log("loss", result["total"].detach(), prog_bar=True, logger=False)
        self.log("lr", self.optimizers().param_groups[0]["lr"], logger=True, prog_bar=False)
        if self.global_step % self.log_images_every_n_steps == 0:
            self._log_grid("train/images", content, style, output)
        return result["total"]

    # The style nets' guard, unchanged: a non-finite gradient skips its step (see there why).
    on_before_optimizer_step = StyleTransferModule.on_before_optimizer_step

    def validation_step(self, batch: tuple[torch.Tensor, torch.Tensor], batch_idx: int) -> None:
        content, style = batch
        result = self.stylize_pair(content, style)
        output = result.pop("output")
        self.log_dict({f"val/{k}": v for k, v in result.items()}, sync_dist=True, batch_size=len(content))
        if batch_idx == 0:
            self._log_grid("val/images", content, style, output)

    def _log_grid(self, tag: str, content: torch.Tensor, style: torch.Tensor, output: torch.Tensor) -> None:
        """Log a grid whose rows are (content | style | output)."""
        experiment = getattr(self.logger, "experiment", None)
        if self.global_rank != 0 or not hasattr(experiment, "add_image"):
            return
        rows = torch.stack([content[:4], style[:4], output[:4].detach()], dim=1).flatten(0, 1)
        experiment.add_image(tag, make_grid(rows.float().clamp(0, 1), nrow=3, padding=2), self.global_step)

    def configure_optimizers(self):
        optimizer = self.optimizer_factory([p for p in self.net.decoder.parameters() if p.requires_grad])
        if not self.lr_decay:
            return optimizer
        # Huang & Belongie's schedule (their Torch code's learningRateDecay): inverse-time, per step.
        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, lambda step: 1.0 / (1.0 + self.lr_decay * step))
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
