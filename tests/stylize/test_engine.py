"""The public one-file entry (`fst.stylize.engine.StyleEngine`) and the options it shares with the CLI."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fst.cli import stylize
from fst.stylize.engine import StyleEngine, TrainedStyle
from fst.stylize.options import Controls, OptionError, Performance, StyleChoice, StylizeOptions
from fst.stylize.pipeline import run

from .helpers import noise_image


def test_one_file_equals_the_batch_job_and_the_net_is_loaded_once(tmp_path: Path, tiny_checkpoint: Path) -> None:
    photo = tmp_path / "photo.png"
    noise_image(37, 29).save(photo)
    engine = StyleEngine("cpu", Performance(compile="off", precision="fp32"))
    style = TrainedStyle("tiny", tiny_checkpoint)
    progress: list[float] = []
    engine.stylize_file(photo, tmp_path / "one.png", style, Controls(strength=0.8), progress.append)
    options = StylizeOptions.create(
        str(photo), tmp_path / "batch", [tiny_checkpoint], compile="off", precision="fp32", strength=0.8, progress=False
    )
    assert run(options) == 0
    one, batch = (np.asarray(Image.open(path)) for path in (tmp_path / "one.png", tmp_path / "batch" / "photo.png"))
    assert one.shape == (29, 37, 3) and np.array_equal(one, batch)
    # Read, style ready, each of the net's 8 stages, the controls, written: growing, ending at 1.
    assert progress == sorted(set(progress)) and len(progress) >= 11 and progress[-1] == 1.0
    assert engine.trained_net(style) is engine.trained_net(TrainedStyle("tiny", tiny_checkpoint))
    assert not list(tmp_path.glob(".*.part"))  # written atomically: no temp file left


def test_cli_defaults_are_the_option_defaults() -> None:
    parsed = stylize.parse_args(["photos", "-c", "net.safetensors"])
    assert parsed == StylizeOptions.create("photos", Path("outputs/demo"), [Path("net.safetensors")])


def test_option_errors_name_fields_and_the_cli_names_flags(capsys: pytest.CaptureFixture) -> None:
    with pytest.raises(OptionError, match=r"^alpha must be in \[0, 1\], got 1.5$"):
        StyleChoice(alpha=1.5)
    with pytest.raises(OptionError, match=r"^2 style images but 1 style_weights$"):
        StyleChoice(style_images=[Path("a.jpg"), Path("b.jpg")], style_weights=[1.0])
    with pytest.raises(TypeError, match="no stylize option 'colour'"):
        StylizeOptions.create("in", Path("out"), colour=True)
    assert stylize.main(["in", "--style-image", "a.jpg", "--style", "udnie"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == "error: --style (a trained style net) and --style-image (any image) exclude each other"
