"""Training steps per second, for each batch size and eager or compiled, on this machine.

    python benchmarks/train_speed.py [--batch-size 4 16] [--image-size 256] [--compile off on]
        [--steps 20] [--warmup 5] [OVERRIDE ...]

Builds the run of `train.py` (same config, same module, same loss) with the Hydra OVERRIDEs
(default: experiment=six_paintings) and times `--steps` optimizer steps after `--warmup` steps,
through Lightning's own loop. `--compile on` wraps the transform net in `torch.compile` (the frozen
VGG stays eager). Prints the device, the precision and one row per setting with steps/s and the
minutes 40,000 steps would take (the issue's goal: <= 20 min on one H100/H200).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import lightning as L
import torch
from hydra.utils import instantiate

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from fst.cli.train import build
from fst.config import compose_config
from fst.device import cpu_info


class StepTimer(L.Callback):
    """Wall time of the steps after `warmup` (synchronised on CUDA)."""

    def __init__(self, warmup: int) -> None:
        self.warmup = warmup
        self.start: float | None = None
        self.timed_steps = 0

    def _sync(self, module: L.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize(module.device)

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self._sync(module)
        if trainer.global_step == self.warmup:
            self.start = time.perf_counter()
        elif trainer.global_step > self.warmup:
            self.timed_steps = trainer.global_step - self.warmup
            self.seconds = time.perf_counter() - self.start


def steps_per_second(overrides: list[str], batch_size: int, image_size: int, compiled: bool, steps: int, warmup: int):
    cfg = compose_config(
        "train",
        [
            *overrides,
            f"data.batch_size={batch_size}",
            f"data.image_size={image_size}",
            f"data.resize_to={image_size}",
            f"trainer.max_steps={warmup + steps}",
            "++trainer.limit_val_batches=0",
            "trainer.num_sanity_val_steps=0",
            "paths.output_dir=/tmp/fst_train_speed",
        ],
    )
    datamodule, module = build(cfg)  # exactly train.py's run
    if compiled:
        module.net.compile()  # in place: the state dict keeps its keys
    timer = StepTimer(warmup)
    trainer = instantiate(
        cfg.trainer,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        callbacks=[timer],
    )
    trainer.fit(module, datamodule=datamodule)
    return timer.timed_steps / timer.seconds, str(trainer.precision), str(module.device)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--batch-size", type=int, nargs="+", default=[4, 16])
    p.add_argument("--image-size", type=int, default=256)
    p.add_argument("--compile", nargs="+", choices=["off", "on"], default=["off", "on"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=5)
    p.add_argument("overrides", nargs="*", default=["experiment=six_paintings"])
    a = p.parse_args()
    gpu = torch.cuda.get_device_name() if torch.cuda.is_available() else "none"
    print(f"cpu: {cpu_info()[0]}; gpu: {gpu}; torch {torch.__version__}; overrides: {' '.join(a.overrides)}")
    print("| batch | net | precision | device | steps/s | images/s | 40k steps |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for batch_size in a.batch_size:
        for mode in a.compile:
            rate, precision, device = steps_per_second(
                a.overrides, batch_size, a.image_size, mode == "on", a.steps, a.warmup
            )
            minutes = 40_000 / rate / 60
            print(
                f"| {batch_size} | {'compiled' if mode == 'on' else 'eager'} | {precision} | {device} | "
                f"{rate:.2f} | {rate * batch_size:.1f} | {minutes:.0f} min |",
                flush=True,
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())
