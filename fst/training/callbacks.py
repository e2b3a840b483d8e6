"""Lightning callbacks: export the small inference file whenever a checkpoint is saved."""

from __future__ import annotations

import logging
from pathlib import Path

import lightning as L
import torch

from fst.checkpoint import export

log = logging.getLogger(__name__)


class ExportInferenceFile(L.Callback):
    """Write `<dirpath>/<style_name>.safetensors` at each checkpoint and at the end of training.

    Args:
        dtype: how the weights are stored ("float32" or "float16"; loading makes them float32).
    """

    def __init__(self, dirpath: str, image_size: int | None = None, dtype: str = "float32") -> None:
        self.dirpath = Path(dirpath)
        self.image_size = image_size
        self.dtype = getattr(torch, dtype)

    def export(self, trainer: L.Trainer, module: L.LightningModule) -> Path | None:
        if trainer.global_rank != 0:
            return None
        path = self.dirpath / f"{module.style_name}.safetensors"
        export(
            getattr(module, "inference_net", module.net),
            path,
            {
                "loss": module.loss.config(),
                "steps": trainer.global_step,
                "image_size": self.image_size,
                "precision": str(trainer.precision),
                "ema_decay": getattr(module, "ema_decay", None),
                # Last: a distilled net's styles are its teacher's, so is the loss that defines them.
                **module.style_metadata(),
            },
            dtype=self.dtype,
        )
        return path

    def on_save_checkpoint(self, trainer: L.Trainer, module: L.LightningModule, checkpoint: dict) -> None:
        self.export(trainer, module)

    def on_train_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        path = self.export(trainer, module)
        if path is not None:
            log.info("exported inference file %s (step %d)", path, trainer.global_step)
