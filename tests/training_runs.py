"""Helpers for the end-to-end train.py tests: runs in subprocesses, killed and resumed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import torch

REPO = Path(__file__).resolve().parents[1]

# The killed run keeps every checkpoint: with the newest 3 kept, a fast machine wrote steps 8-16
# and deleted step 4 in the half second before the kill (seen in CI on an idle Xeon).
KEEP_EVERY_CHECKPOINT = "callbacks.checkpoint.save_top_k=-1"
# Runs are this long, and killed runs resume at step 4: 6 batches are left, not a whole "epoch" of the
# restored count, so a loader length that disagrees with Lightning's count shows (with 8 it hid).
STEPS = 10
KILL_AT = 4


def environment(run_id: str) -> dict[str, str]:
    return {**os.environ, "FST_RUN_ID": run_id, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def kill_at_checkpoint(command: list[str], run_id: str, checkpoints: Path) -> tuple[Path, dict]:
    """Starts `command` (a run far longer than `STEPS`), SIGKILLs it once its step-`KILL_AT`
    checkpoint exists, and returns that checkpoint's path and contents."""
    checkpoint = checkpoints / f"step{KILL_AT:06d}.ckpt"
    process = subprocess.Popen(
        [*command, "trainer.max_steps=1000", KEEP_EVERY_CHECKPOINT],
        env=environment(run_id),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 300
    while not checkpoint.exists() and process.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)  # let the writer finish the file before the kill
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert process.returncode == -signal.SIGKILL
    # weights_only: what resume itself loads (an OmegaConf container in the hyperparameters fails it)
    contents = torch.load(checkpoint, map_location="cpu", weights_only=True)
    assert contents["global_step"] == KILL_AT
    return checkpoint, contents


def resume(command: list[str], run_id: str, checkpoint: Path) -> None:
    """Resumes the killed run to `STEPS`; it must not warn that its data cannot resume."""
    result = subprocess.run(
        [*command, f"ckpt_path={checkpoint}"], env=environment(run_id), capture_output=True, text=True
    )
    assert result.returncode == 0, result.stderr[-2000:]
    # The stream restarts at the restored step, so Lightning's "dataloader is not resumable" warning
    # would only tell users a falsehood about their run.
    assert "not resumable" not in result.stderr + result.stdout


def assert_same_weights(straight: dict[str, torch.Tensor], resumed: dict[str, torch.Tensor]) -> None:
    assert straight.keys() == resumed.keys()
    for key in straight:
        assert torch.allclose(straight[key], resumed[key], rtol=1e-5, atol=1e-6), key
