"""The learning-rate schedule of the style and distillation modules: a warm-up and a drop.

Warm-up: Adam's first step moves every weight by about the full learning rate whatever its
gradient's size (its moment estimates start empty), which undoes much of what a warm-started net
had learnt: the space-to-depth student's loss went from 0.44 to 22 on its second step at lr 1e-3.
Drop: a long run at a constant rate ends noisy; a tenth of the rate for its last stretch settles it.
"""

from __future__ import annotations

from typing import Any

import torch


def factor(step: int, warmup_steps: int = 0, drop_at: int | None = None, drop_factor: float = 0.1) -> float:
    """The multiplier of the optimizer's own rate at optimizer step `step` (0-based)."""
    ramp = min(1.0, (step + 1) / warmup_steps) if warmup_steps > 0 else 1.0
    return ramp * (drop_factor if drop_at is not None and step >= drop_at else 1.0)


def with_schedule(
    optimizer: torch.optim.Optimizer, warmup_steps: int = 0, drop_at: int | None = None, drop_factor: float = 0.1
) -> torch.optim.Optimizer | dict[str, Any]:
    """`optimizer` with its rate ramped linearly from 1/`warmup_steps` of itself up to itself over
    the first `warmup_steps` steps, and times `drop_factor` from step `drop_at` on, in the form
    Lightning's `configure_optimizers` returns; the optimizer alone when neither is asked for.

    The schedule is a function of the step, so a run resumed with a `drop_at` it did not have
    (decided after looking at its exports) drops from that step on, and a resume is otherwise exact.
    """
    if warmup_steps <= 0 and drop_at is None:
        return optimizer
    schedule = torch.optim.lr_scheduler.LambdaLR(
        optimizer, lambda step: factor(step, warmup_steps, drop_at, drop_factor)
    )
    return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
