"""Lightning module for distillation: a cheaper student net learns to reproduce an exported net.

The teacher is a trained style file (single- or multi-style); the student is a smaller net of
the same kind (e.g. `model=johnson_multi_half`, 4x fewer FLOPs) with the same style list. The
teacher runs frozen, without gradients, on each training batch; its outputs are the targets, so
no style image is read and the exported student describes its styles (and the loss that defined
them) as the teacher's file does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch import nn
from torchvision.utils import make_grid

from fst.checkpoint import CheckpointError, load_net
from fst.losses.distill import DistillationLoss
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet
from fst.training.lr_schedule import with_schedule
from fst.training.style_module import StyleTransferModule, file_sha256

log = logging.getLogger(__name__)


class DistillationModule(L.LightningModule):
    """Trains `net` (the student) so that net(photo, style) equals the teacher's output.

    Batch entry i of step t gets style (t * N + i) mod S, as in `MultiStyleTransferModule`: every
    style trains equally often and a resumed run sees exactly the styles the killed one would have.

    Args:
        net: the student; a `MultiStyleNet` with the teacher's style names, or a plain
            `TransformerNet` for a single-style teacher.
        loss: pixel and feature terms against the teacher's output.
        optimizer: partial optimizer (Hydra `_partial_: true`) that takes the student's parameters.
        teacher: an exported fst file (`fst.checkpoint.export`).
        name: the run's name, also the exported file's.
        log_images_every_n_steps: how often a (photo | teacher | student) grid goes to the logger.
        channels_last: NHWC convolutions (faster on GPUs and oneDNN CPUs).
        init_from: an exported student to start from: a run that follows a newer teacher begins
            where the last student ended (a resumed run must keep its teacher).
        init_partial: take from `init_from` only the stages whose tensors' names and shapes match,
            and start the rest afresh: a student of another layout (`space_to_depth`) keeps the
            trunk of one of the three-width layout. Logged, tensor by tensor.
        warmup_steps: ramp the learning rate up linearly over this many steps (`with_schedule`);
            for warm starts, whose fresh Adam would otherwise undo much of `init_from` at once.
        lr_drop_at: from this step on, a tenth of the learning rate (None: never).
    """

    def __init__(
        self,
        net: TransformerNet,
        loss: DistillationLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        teacher: str,
        name: str,
        log_images_every_n_steps: int = 500,
        channels_last: bool = False,
        init_from: str | None = None,
        init_partial: bool = False,
        warmup_steps: int = 0,
        lr_drop_at: int | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["net", "loss", "optimizer"])
        self.net, self.loss, self.optimizer_factory = net, loss, optimizer
        self.style_name = name
        self.log_images_every_n_steps = log_images_every_n_steps
        self.memory_format = torch.channels_last if channels_last else torch.contiguous_format
        self.skipped_steps = 0
        self.teacher_net, self.teacher_metadata = load_net(teacher)
        self.teacher_net.requires_grad_(False)
        self.teacher_file = Path(teacher).name
        self.teacher_sha256 = file_sha256(teacher)
        teacher_styles = getattr(self.teacher_net, "style_names", None)
        student_styles = getattr(net, "style_names", None)
        if teacher_styles != student_styles:
            raise ValueError(
                f"{teacher}: the teacher's styles {teacher_styles} differ from the student's {student_styles}"
            )
        self.style_count = len(teacher_styles or [None])
        if init_from:
            start, _ = load_net(init_from)
            if getattr(start, "style_names", None) != student_styles:
                raise ValueError(f"{init_from}: its styles differ from the teacher's {teacher_styles}")
            if init_partial:
                load_matching(net, start.state_dict(), init_from)
            else:
                net.load_state_dict(start.state_dict())  # a different width fails here, naming the tensor

    def state_dict(self, *args, **kwargs):
        # The teacher is rebuilt from its file and the VGG from its own: checkpoints hold the student.
        state = super().state_dict(*args, **kwargs)
        return {k: v for k, v in state.items() if k.startswith("net.")}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        student = {k.removeprefix("net."): v for k, v in state_dict.items() if k.startswith("net.")}
        return self.net.load_state_dict(student, strict=strict, assign=assign)

    def on_save_checkpoint(self, checkpoint: dict) -> None:
        checkpoint["teacher_sha256"] = self.teacher_sha256

    def on_load_checkpoint(self, checkpoint: dict) -> None:
        # A resumed run must learn from the same teacher, or its student would be a blend of two.
        saved = checkpoint.get("teacher_sha256")
        if saved is not None and saved != self.teacher_sha256:
            raise CheckpointError(
                f"{self.hparams.teacher}: not the teacher this run started with (sha256 {saved[:12]}…)"
            )

    def train(self, mode: bool = True) -> DistillationModule:
        super().train(mode)
        self.teacher_net.eval()  # frozen for good, whatever Lightning sets
        return self

    def style_metadata(self) -> dict:
        """The teacher's styles and loss (they define what the student's styles are), and where it came from."""
        keys = ("styles", "style", "loss")
        described = {key: self.teacher_metadata[key] for key in keys if key in self.teacher_metadata}
        return {
            **described,
            "distilled_from": {
                "file": self.teacher_file,
                "sha256": self.teacher_sha256,
                "steps": self.teacher_metadata.get("steps"),
                "architecture": self.teacher_metadata["architecture"],
            },
            "distillation": self.loss.config(),
        }

    def on_fit_start(self) -> None:
        self.net.to(memory_format=self.memory_format)
        self.teacher_net.to(memory_format=self.memory_format)
        self.loss.to(memory_format=self.memory_format)

    def styles_for_step(self, batch_size: int) -> torch.Tensor:
        """Style indices (N,) of this step's batch entries on this process."""
        first = (self.global_step * self.trainer.world_size + self.global_rank) * batch_size
        return (first + torch.arange(batch_size)) % self.style_count

    def outputs(self, batch: torch.Tensor, styles: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(teacher's, student's) outputs for `batch` with style `styles[i]` for entry i."""
        styles = styles.to(batch.device)
        with torch.no_grad():
            target = self._run(self.teacher_net, batch, styles)
        return target, self._run(self.net, batch, styles)

    @staticmethod
    def _run(net: TransformerNet, batch: torch.Tensor, styles: torch.Tensor) -> torch.Tensor:
        return net(batch, styles) if isinstance(net, MultiStyleNet) else net(batch)

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        batch = batch.contiguous(memory_format=self.memory_format)
        target, stylized = self.outputs(batch, self.styles_for_step(len(batch)))
        terms = self.loss(stylized, target)
        self.log_dict({f"train/{k}": v.detach() for k, v in terms.items()}, prog_bar=False)
        self.log("loss", terms["total"].detach(), prog_bar=True, logger=False)
        if self.global_step % self.log_images_every_n_steps == 0:
            self._log_grid("train/images", batch, target, stylized)
        return terms["total"]

    # The style nets' guard, unchanged: a non-finite gradient skips its step (see there why).
    on_before_optimizer_step = StyleTransferModule.on_before_optimizer_step

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        totals: dict[str, torch.Tensor] = {}
        for index in range(self.style_count):
            target, stylized = self.outputs(batch, torch.full((len(batch),), index))
            for key, value in self.loss(stylized, target).items():
                totals[key] = totals.get(key, 0) + value / self.style_count
            if batch_idx == 0:
                names = getattr(self.net, "style_names", [self.style_name])
                self._log_grid(f"val/images/{names[index]}", batch, target, stylized)
        self.log_dict({f"val/{k}": v for k, v in totals.items()}, sync_dist=True, batch_size=len(batch))

    def _log_grid(self, tag: str, content: torch.Tensor, target: torch.Tensor, stylized: torch.Tensor) -> None:
        """Log a grid whose rows are (photo | teacher | student)."""
        experiment = getattr(self.logger, "experiment", None)
        if self.global_rank != 0 or not hasattr(experiment, "add_image"):
            return
        rows = torch.stack([content[:4], target[:4], stylized[:4].detach()], dim=1).flatten(0, 1)
        experiment.add_image(tag, make_grid(rows.float().clamp(0, 1), nrow=3, padding=2), self.global_step)

    def configure_optimizers(self) -> torch.optim.Optimizer | dict[str, Any]:
        optimizer = self.optimizer_factory([p for p in self.net.parameters() if p.requires_grad])
        return with_schedule(optimizer, self.hparams.warmup_steps, self.hparams.lr_drop_at)


def load_matching(net: nn.Module, state: dict[str, torch.Tensor], source: str) -> list[str]:
    """Load the stages of `state` (`encoder.1`, `residuals.3`, ...) whose tensors all have the names
    and shapes of `net`'s; returns the names kept afresh (logged, so a warm start that kept little
    says so). Whole stages, not single tensors: a bias that fits beside a weight that does not
    belongs to another layer."""
    own = net.state_dict()

    def stage(key: str) -> str:
        return ".".join(key.split(".")[:2])

    fits: dict[str, bool] = {}
    for key in own:
        fits[stage(key)] = fits.get(stage(key), True) and key in state and state[key].shape == own[key].shape
    matching = {k: state[k] for k in own if fits[stage(k)]}
    net.load_state_dict(matching, strict=False)
    fresh = [k for k in own if k not in matching]
    log.info("warm start from %s: %d of %d tensors; afresh: %s", source, len(matching), len(own), ", ".join(fresh))
    return fresh
