"""End-to-end distillation (train.py experiment=six_paintings_distill) from a small exported teacher:
exact resume after SIGKILL, the export that stylize.py loads, the teacher's metadata carried over."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image
from safetensors.torch import load_file

from fst.checkpoint import load_net
from tests.conftest import random_photo
from tests.training.test_distill_module import STYLES, make_teacher
from tests.training_runs import REPO, STEPS, assert_same_weights, environment, kill_at_checkpoint, resume

pytestmark = pytest.mark.slow


def distill_command(runs: Path, photos: Path, teacher: Path, vgg: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(REPO / "train.py"),
        "experiment=six_paintings_distill",
        f"teacher={teacher}",
        "style=tiny_half",
        f"paths.runs={runs}",
        f"paths.train_dir={photos}",
        f"paths.vgg_weights={vgg}",
        "trainer.precision=32-true",  # the resumed weights are compared to 1e-5 below
        "data.image_size=32",
        "data.resize_to=null",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.val_images=2",
        "data.val_fraction=0.3",
        "model.channels=[4,8,16]",
        "model.num_residual_blocks=1",
        f"trainer.max_steps={STEPS}",
        "trainer.val_check_interval=4",
        "trainer.log_every_n_steps=1",
        "callbacks.checkpoint.every_n_train_steps=4",
        "module.log_images_every_n_steps=4",
        *extra,
    ]


@pytest.fixture
def setup(tmp_path: Path, photo_folder: Path, vgg_file: Path) -> tuple[Path, Path, Path, Path]:
    (photo_folder / "broken.jpg").write_bytes(b"")  # must be skipped, not crash the run
    return tmp_path / "runs", photo_folder, make_teacher(tmp_path / "teacher.safetensors"), vgg_file


def test_resume_after_sigkill_equals_uninterrupted_run(setup: tuple[Path, Path, Path, Path]) -> None:
    runs, photos, teacher, vgg = setup
    subprocess.run(distill_command(runs, photos, teacher, vgg), env=environment("straight"), check=True)

    killed_dir = runs / "tiny_half" / "killed" / "checkpoints"
    command = distill_command(runs, photos, teacher, vgg)
    checkpoint_path, checkpoint = kill_at_checkpoint(command, "killed", killed_dir)
    assert all(k.startswith("net.") for k in checkpoint["state_dict"])  # neither the teacher nor the VGG
    resume(command, "resumed", checkpoint_path)

    straight = load_file(str(runs / "tiny_half" / "straight" / "checkpoints" / "tiny_half.safetensors"))
    resumed = load_file(str(killed_dir / "tiny_half.safetensors"))
    assert_same_weights(straight, resumed)
    first_conv = checkpoint["state_dict"]["net.encoder.0.0.1.weight"]
    assert not torch.allclose(first_conv, straight["encoder.0.0.1.weight"])  # steps 5-10 moved it
    net, metadata = load_net(killed_dir / "tiny_half.safetensors")
    assert net.style_names == STYLES and net.channels == [4, 8, 16]
    assert metadata["steps"] == STEPS
    assert [s["name"] for s in metadata["styles"]] == STYLES
    assert metadata["loss"]["relative"] is True  # the teacher's loss, which defines the styles
    assert metadata["distilled_from"]["file"] == "teacher.safetensors"


def test_resume_with_another_teacher_is_one_line_and_exit_2(setup: tuple[Path, Path, Path, Path]) -> None:
    runs, photos, teacher, vgg = setup
    subprocess.run(distill_command(runs, photos, teacher, vgg, "trainer.max_steps=4"), env=environment("a"), check=True)
    other = make_teacher(teacher.with_name("other.safetensors"), seed=9)
    last = runs / "tiny_half" / "a" / "checkpoints" / "last.ckpt"
    command = distill_command(runs, photos, other, vgg, f"ckpt_path={last}")
    result = subprocess.run(command, env=environment("b"), capture_output=True, text=True)
    assert result.returncode == 2, result.stderr[-2000:]
    assert "other.safetensors: not the teacher this run started with" in result.stderr
    assert "Traceback" not in result.stderr


def test_export_is_stylized_by_stylize_py(setup: tuple[Path, Path, Path, Path], tmp_path: Path) -> None:
    runs, photos, teacher, vgg = setup
    subprocess.run(distill_command(runs, photos, teacher, vgg, "trainer.max_steps=2"), env=environment("s"), check=True)
    student = runs / "tiny_half" / "s" / "checkpoints" / "tiny_half.safetensors"
    inputs = tmp_path / "in"
    inputs.mkdir()
    random_photo(37, 29, seed=3).save(inputs / "photo.jpg")
    out = tmp_path / "out"
    command = [sys.executable, str(REPO / "stylize.py"), str(inputs), "-c", str(student), "--style", "second"]
    result = subprocess.run([*command, "-o", str(out), "--compile", "off"], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr[-2000:]
    written = list(out.rglob("photo.*"))
    assert len(written) == 1
    assert Image.open(written[0]).size == (37, 29)
