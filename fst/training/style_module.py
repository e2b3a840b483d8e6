"""Lightning modules: one training step of a transform net against the perceptual loss.

- `StyleTransferModule`: one style, a `TransformerNet`.
- `MultiStyleTransferModule`: several styles at once, a `MultiStyleNet` (conditional instance norm).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn
from torchvision.utils import make_grid

from fst.checkpoint import load_net
from fst.config import is_image_path, style_names
from fst.io.images import load_rgb, load_tensor
from fst.losses.perceptual import PerceptualLoss
from fst.losses.targets import GramTarget, StyleTarget
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet
from fst.training.lr_schedule import with_schedule

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
        ema_decay: keep an exponential moving average of the net's weights (this decay per step)
            and validate and export it in place of the last step's weights, whose judged style
            wanders from export to export at batch 4. None: no average.
        warmup_steps: ramp the learning rate up linearly over this many steps (`with_schedule`);
            for warm starts, whose fresh Adam would otherwise undo much of the start at once.
        lr_drop_at: from this step on, a tenth of the learning rate (None: never).
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
        ema_decay: float | None = None,
        warmup_steps: int = 0,
        lr_drop_at: int | None = None,
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
        self.ema_decay = ema_decay
        self.net_average = _moving_average(net, ema_decay) if ema_decay else None
        load_rgb(style_image)  # fail now, in one line, rather than after the data loaders start
        self.style_sha256 = file_sha256(style_image)

    def state_dict(self, *args, **kwargs):
        # The frozen VGG is rebuilt from its weights file; checkpoints hold only what trains.
        state = super().state_dict(*args, **kwargs)
        return {k: v for k, v in state.items() if not k.startswith("loss.")}

    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        net = {k.removeprefix("net."): v for k, v in state_dict.items() if k.startswith("net.")}
        average = {k.removeprefix("net_average."): v for k, v in state_dict.items() if k.startswith("net_average.")}
        result = self.net.load_state_dict(net, strict=strict, assign=assign)
        if self.net_average is not None and average:
            self.net_average.load_state_dict(average, strict=strict, assign=assign)
        elif self.net_average is not None:
            # A run that had no average: it starts from the restored weights, not the initial ones.
            self.net_average.n_averaged.zero_()
            self.net_average.update_parameters(self.net)
        return result

    @property
    def inference_net(self) -> TransformerNet:
        """The net that validates and is exported: the moving average when there is one."""
        return self.net_average.module if self.net_average is not None else self.net

    def optimizer_step(self, *args, **kwargs) -> None:
        super().optimizer_step(*args, **kwargs)
        # Here, not in on_train_batch_end: callbacks' hooks (the checkpoint's) run before the module's,
        # and a checkpoint must hold the average of the step it was saved at.
        if self.net_average is not None:
            self.net_average.update_parameters(self.net)

    def _ensure_style_target(self) -> None:
        # Here rather than in __init__: only now is the module on its final device.
        if self.style_target is None:
            style = load_tensor(self.style_image).unsqueeze(0).to(self.device)
            self.style_target = self.loss.style_target(style)

    def on_fit_start(self) -> None:
        self.net.to(memory_format=self.memory_format)
        self.inference_net.to(memory_format=self.memory_format)
        self.loss.to(memory_format=self.memory_format)
        self._ensure_style_target()

    def on_validation_start(self) -> None:
        self._ensure_style_target()

    def style_metadata(self) -> dict:
        """What the exported file says about the style(s) it was trained on."""
        return {"style": {"name": self.style_name, "file": Path(self.style_image).name, "sha256": self.style_sha256}}

    def forward(self, content: torch.Tensor) -> torch.Tensor:
        return self.net(content)

    def stylize_for_training(self, batch: torch.Tensor) -> tuple[torch.Tensor, StyleTarget]:
        """The stylised batch and the style target each entry must match."""
        return self.net(batch), self.style_target

    def training_step(self, batch: torch.Tensor, batch_idx: int) -> torch.Tensor:
        batch = batch.contiguous(memory_format=self.memory_format)
        stylized, style_target = self.stylize_for_training(batch)
        terms = self.loss(stylized, batch, style_target)
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
        stylized = self.inference_net(batch)
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

    def configure_optimizers(self) -> torch.optim.Optimizer | dict[str, Any]:
        optimizer = self.optimizer_factory([p for p in self.net.parameters() if p.requires_grad])
        return with_schedule(optimizer, self.hparams.warmup_steps, self.hparams.lr_drop_at)


class MultiStyleTransferModule(StyleTransferModule):
    """Trains a `MultiStyleNet` on several style images at once (Dumoulin et al. 2017).

    Batch entry i of step t gets style (t * N + i) mod S: every batch mixes styles, every style
    trains equally often, and a resumed run sees exactly the styles the killed one would have.

    Args:
        styles: the style images, in the net's order: a name (`<style_dir>/<name>.jpg`) or a path
            (named by its stem).
        style_dir: where names are looked up.
        name: the run's name, also the exported file's.
        train_styles: styles whose norm rows train; default all of them, convolutions too. A subset
            trains only its rows with the convolutions frozen: the paper's way to add a style.
        init_from: an exported fst file to start from (`MultiStyleNet.load_shared`).
        style_weights: {style: multiplier of its style term} for paintings that need a stronger
            (or weaker) pull than the others, or {style: {layer: multiplier}} for a pull at one
            depth (unnamed layers 1); unnamed styles 1. Validation stays unweighted, so its totals
            compare across recipes.
    """

    def __init__(
        self,
        net: MultiStyleNet,
        loss: PerceptualLoss,
        optimizer: Callable[..., torch.optim.Optimizer],
        styles: Sequence[str],
        style_dir: str,
        name: str,
        train_styles: Sequence[str] | None = None,
        init_from: str | None = None,
        log_images_every_n_steps: int = 500,
        channels_last: bool = False,
        style_weights: Mapping[str, float | Mapping[str, float]] | None = None,
        ema_decay: float | None = None,
        warmup_steps: int = 0,
        lr_drop_at: int | None = None,
    ) -> None:
        names = style_names(styles)
        if names != net.style_names:
            raise ValueError(f"the net's styles {net.style_names} differ from the style images' {names}")
        unknown = [s for s in train_styles or () if s not in names]
        if unknown:
            raise ValueError(f"train_styles: {unknown[0]!r} is not one of {names}")
        layer_weights = _layer_weights(style_weights or {}, names, list(loss.style_layers))
        trained = list(train_styles or names)
        # Only the trained styles need their images; the others' metadata comes from `init_from`.
        paths = {name: _style_path(entry, style_dir) for name, entry in zip(names, styles, strict=True)}
        self.style_paths = {name: paths[name] for name in trained}
        first_image = next(iter(self.style_paths.values()))
        if init_from:
            source, metadata = load_net(init_from)
            net.load_shared(source)  # before the base class copies the net into its moving average
            inherited = metadata.get("styles") or [metadata.get("style", {})]
        super().__init__(
            net,
            loss,
            optimizer,
            first_image,
            name,
            log_images_every_n_steps,
            channels_last,
            ema_decay,
            warmup_steps,
            lr_drop_at,
        )
        for path in self.style_paths.values():
            load_rgb(path)  # every style image fails now, in one line
        self.train_indices = [names.index(s) for s in trained]
        self.styles_metadata = {
            s: {"name": s, "file": Path(p).name, "sha256": file_sha256(p)} for s, p in self.style_paths.items()
        }
        if init_from:
            self.styles_metadata = {s["name"]: s for s in inherited if s.get("name")} | self.styles_metadata
        missing = [s for s in names if s not in self.styles_metadata]
        if missing:
            raise ValueError(f"style {missing[0]!r} is neither trained here nor in init_from")
        if train_styles:
            self._train_only_rows(net, self.train_indices)
        # Gram targets of the trained styles {layer: (T, C, C)}, and each style's row in them.
        self.style_bank: dict[str, torch.Tensor] | None = None
        self.bank_row = torch.zeros(len(names), dtype=torch.long)
        self.bank_row[self.train_indices] = torch.arange(len(trained))
        self.style_weights = {layer: torch.tensor(weights) for layer, weights in layer_weights.items()}

    @staticmethod
    def _train_only_rows(net: MultiStyleNet, rows: list[int]) -> None:
        mask = torch.zeros(len(net.style_names), 1)
        mask[rows] = 1.0
        for parameter in net.parameters():
            parameter.requires_grad_(False)
        for norm in net.norms:
            for parameter in (norm.weight, norm.bias):
                parameter.requires_grad_(True)
                # Zero gradients on the frozen rows; Adam's moments there stay zero, so they never move.
                parameter.register_hook(lambda grad, mask=mask: grad * mask.to(grad.device, grad.dtype))

    def style_metadata(self) -> dict:
        return {"styles": [self.styles_metadata[name] for name in self.net.style_names]}

    def _ensure_style_target(self) -> None:
        if self.style_bank is None:
            targets = [
                self.loss.style_target(load_tensor(path).unsqueeze(0).to(self.device))
                for path in self.style_paths.values()
            ]
            self.style_bank = {layer: torch.cat([t.grams[layer] for t in targets]) for layer in targets[0].grams}

    def styles_for_step(self, batch_size: int) -> torch.Tensor:
        """Style indices (N,) of this step's batch entries on this process."""
        first = (self.global_step * self.trainer.world_size + self.global_rank) * batch_size
        order = torch.tensor(self.train_indices)
        return order[(first + torch.arange(batch_size)) % len(order)]

    def target_for(self, styles: torch.Tensor, weighted: bool = False) -> GramTarget:
        """Each entry's Gram targets; `weighted`: with its style's weight (training, not validation)."""
        assert self.style_bank is not None
        rows = self.bank_row[styles.cpu()]
        weights = {layer: w[styles.cpu()] for layer, w in self.style_weights.items()} if weighted else None
        return GramTarget({layer: grams[rows.to(grams.device)] for layer, grams in self.style_bank.items()}, weights)

    def stylize_for_training(self, batch: torch.Tensor) -> tuple[torch.Tensor, StyleTarget]:
        styles = self.styles_for_step(len(batch))
        return self.net(batch, styles.to(batch.device)), self.target_for(styles, weighted=True)

    def validation_step(self, batch: torch.Tensor, batch_idx: int) -> None:
        totals: dict[str, torch.Tensor] = {}
        for index in self.train_indices:
            styles = torch.full((len(batch),), index)
            stylized = self.inference_net(batch, styles.to(batch.device))
            for key, value in self.loss(stylized, batch, self.target_for(styles)).items():
                totals[key] = totals.get(key, 0) + value / len(self.train_indices)
            if batch_idx == 0:
                self._log_grid(f"val/images/{self.net.style_names[index]}", batch, stylized)
        self.log_dict({f"val/{k}": v for k, v in totals.items()}, sync_dist=True, batch_size=len(batch))


def _layer_weights(
    style_weights: Mapping[str, float | Mapping[str, float]], names: list[str], layers: list[str]
) -> dict[str, list[float]]:
    """{layer: each style's multiplier, in `names`' order} from `style_weights`' config form."""
    unknown = [s for s in style_weights if s not in names]
    if unknown:
        raise ValueError(f"style_weights: {unknown[0]!r} is not one of {names}")
    per_style = {
        s: dict(w) if isinstance(w, Mapping) else dict.fromkeys(layers, float(w)) for s, w in style_weights.items()
    }
    for style, weights in per_style.items():
        unknown = [layer for layer in weights if layer not in layers]
        if unknown:
            raise ValueError(f"style_weights: {style}: {unknown[0]!r} is not one of the style layers {layers}")
    return {layer: [float(per_style.get(s, {}).get(layer, 1.0)) for s in names] for layer in layers}


def _moving_average(net: torch.nn.Module, decay: float) -> AveragedModel:
    average = AveragedModel(net, multi_avg_fn=get_ema_multi_avg_fn(decay), use_buffers=True)
    average.requires_grad_(False)  # DDP would wait for gradients that never come
    return average


def _style_path(entry: str, style_dir: str) -> str:
    return entry if is_image_path(entry) else str(Path(style_dir) / f"{entry}.jpg")
