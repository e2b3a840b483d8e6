"""End-to-end AdaIN training (train.py experiment=adain): exact resume after SIGKILL with two data
streams, the (content | style | output) grids, the export that stylize.py --style-image reads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from fst.checkpoint import load_adain
from tests.conftest import random_photo
from tests.training_runs import REPO, STEPS, environment, kill_at_checkpoint, resume

pytestmark = pytest.mark.slow


def adain_command(runs: Path, photos: Path, styles: Path, vgg: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        str(REPO / "train.py"),
        "experiment=adain",
        f"paths.runs={runs}",
        f"paths.train_dir={photos}",
        f"paths.vgg_weights={vgg}",
        f"data.style_dirs=[{styles}]",
        "data.val_styles=[held_out.png]",
        "data.exclude_styles=[]",
        "trainer.precision=32-true",
        "data.image_size=32",
        "data.resize_to=40",
        "data.batch_size=2",
        "data.num_workers=0",
        "data.val_images=2",
        "data.val_fraction=0.3",
        "model.decoder_width=0.125",
        f"trainer.max_steps={STEPS}",
        "trainer.val_check_interval=4",
        "trainer.log_every_n_steps=1",
        "callbacks.checkpoint.every_n_train_steps=4",
        "module.log_images_every_n_steps=4",
        *extra,
    ]


@pytest.fixture
def setup(tmp_path: Path, photo_folder: Path, vgg_file: Path) -> tuple[Path, Path, Path, Path]:
    styles = tmp_path / "styles"
    styles.mkdir()
    for i in range(5):
        random_photo(56 + 8 * i, 48, seed=40 + i).save(styles / f"painting_{i}.png")
    random_photo(48, 48, seed=50).save(styles / "held_out.png")
    (styles / "broken.jpg").write_bytes(b"")  # must be skipped, not crash the run
    (photo_folder / "broken.jpg").write_bytes(b"")
    return tmp_path / "runs", photo_folder, styles, vgg_file


def test_resume_after_sigkill_equals_uninterrupted_run(setup: tuple[Path, Path, Path, Path]) -> None:
    runs, photos, styles, vgg = setup
    # float32 files: the weights are compared to 1e-5 below (the default float16 rounds them).
    exact = "callbacks.export.dtype=float32"
    subprocess.run(adain_command(runs, photos, styles, vgg, exact), env=environment("straight"), check=True)

    killed_dir = runs / "adain" / "killed" / "checkpoints"
    command = adain_command(runs, photos, styles, vgg, exact)
    checkpoint_path, checkpoint = kill_at_checkpoint(command, "killed", killed_dir)
    assert not any(k.startswith("net.encoder.") for k in checkpoint["state_dict"])  # the frozen VGG stays out
    resume(command, "resumed", checkpoint_path)

    straight_file = runs / "adain" / "straight" / "checkpoints" / "adain.safetensors"
    straight, resumed = load_file(str(straight_file)), load_file(str(killed_dir / "adain.safetensors"))
    assert straight.keys() == resumed.keys()
    decoder_keys = [k for k in straight if k.startswith("decoder.")]
    assert decoder_keys and any(k.startswith("encoder.") for k in straight)  # the file needs no VGG file
    for key in straight:
        assert torch.allclose(straight[key], resumed[key], rtol=1e-5, atol=1e-6), key
    # Steps 5-10 moved the decoder (else the equality above would prove little).
    first_conv = checkpoint["state_dict"]["net.decoder.layers.0.1.weight"]
    assert not torch.allclose(first_conv, straight["decoder.layers.0.1.weight"])
    _, metadata = load_adain(killed_dir / "adain.safetensors")
    assert metadata["steps"] == STEPS and metadata["model"] == "adain" and metadata["name"] == "adain"
    assert metadata["loss"]["style_weight"] == 10.0


def test_run_logs_losses_and_content_style_output_grids(setup: tuple[Path, Path, Path, Path]) -> None:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    runs, photos, styles, vgg = setup
    result = subprocess.run(
        adain_command(runs, photos, styles, vgg, "trainer.max_steps=4"),
        env=environment("tb"),
        capture_output=True,
        text=True,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert "broken.jpg" in result.stdout + result.stderr  # unreadable style image: a warning, the run goes on
    run_dir = runs / "adain" / "tb"
    events = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0})
    events.Reload()
    assert {"train/content", "train/style", "train/total", "val/total", "lr"} <= set(events.Tags()["scalars"])
    lrs = [event.value for event in events.Scalars("lr")]
    assert lrs[0] == pytest.approx(3e-4) and lrs[-1] < lrs[0]  # adain_cpu's lr, the paper's inverse-time decay
    # Rows of (content | style | output), 32 px images with 2 px padding: the batch's 2 pairs in
    # training, the one validation style in validation.
    for tag, rows in (("train/images", 2), ("val/images", 1)):
        grid = events.Images(tag)[0]
        assert (grid.width, grid.height) == (3 * 34 + 2, rows * 34 + 2), tag
    model, metadata = load_adain(run_dir / "checkpoints" / "adain.safetensors")
    assert metadata["steps"] == 4
    assert metadata["dtype"] == "float16"  # experiment=adain stores half-size files ...
    assert all(p.dtype == torch.float32 for p in model.parameters())  # ... that load as float32
