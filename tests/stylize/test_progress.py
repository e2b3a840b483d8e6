"""Progress of one stylize call (`fst.stylize.progress`): fine-grained, never going back, and
without any effect on the pixels."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import pytest
import torch

from fst.models.transformer import TransformerNet
from fst.stylize.arbitrary import stylize_tiled
from fst.stylize.engine import StyleEngine, TrainedStyle
from fst.stylize.options import Performance, TilingOptions
from fst.stylize.progress import TICK_CAP, Pace, Progress, stage_costs, ticking
from fst.stylize.stylizer import Stylizer
from tests.conftest import tiny_adain

from .helpers import noise_image


def photo_tensor(height: int, width: int) -> torch.Tensor:
    torch.manual_seed(1)
    return (torch.rand(1, 3, height, width) * 255).round().to(torch.uint8)


def tiled_stylizer(net: TransformerNet) -> Stylizer:
    # Anything over 4096 pixels runs in 48-px tiles: a 144x160 photo makes 4 x 4 tiles.
    tiling = TilingOptions(max_pixels=4096, tile_size=48, overlap=16)
    return Stylizer(net, "tiny", torch.device("cpu"), tiling=tiling, performance=Performance(precision="fp32"))


def test_tiled_progress_is_monotonic_and_fine_grained(tiny_net: TransformerNet) -> None:
    stylizer = tiled_stylizer(tiny_net)
    content = photo_tensor(144, 160)
    reported: list[float] = []
    stylized = stylizer(content, Progress(reported.append))
    assert reported == sorted(set(reported)), "progress went back or repeated itself"
    assert reported[-1] == 1.0 and reported[0] < 0.1
    # 16 tiles x (statistics passes + cache passes + the final pass): many small steps, no jump.
    assert len(reported) >= 40, len(reported)
    assert max(b - a for a, b in itertools.pairwise([0.0, *reported])) < 0.1
    # Reporting changes nothing in the pixels.
    assert torch.equal(stylized, stylizer(content))


def test_the_eager_net_reports_each_stage_with_the_same_pixels(tiny_net: TransformerNet) -> None:
    stylizer = Stylizer(tiny_net, "tiny", torch.device("cpu"), performance=Performance(precision="fp32"))
    content = photo_tensor(45, 61)
    reported: list[float] = []
    stylized = stylizer(content, Progress(reported.append))
    assert reported == sorted(set(reported)) and reported[-1] == 1.0
    assert len(reported) >= len(tiny_net.stages)
    assert torch.equal(stylized, stylizer(content))


def test_a_file_through_the_engine_reports_from_reading_to_writing(tmp_path: Path, tiny_checkpoint: Path) -> None:
    photo = tmp_path / "photo.png"
    noise_image(150, 140).save(photo)
    tiling = TilingOptions(max_pixels=4096, tile_size=48, overlap=16)
    engine = StyleEngine("cpu", Performance(compile="off", precision="fp32"), tiling=tiling)
    reported: list[float] = []
    engine.stylize_file(photo, tmp_path / "out.png", TrainedStyle("tiny", tiny_checkpoint), on_progress=reported.append)
    assert reported == sorted(set(reported)) and reported[-1] == 1.0 and len(reported) >= 40
    assert (tmp_path / "out.png").is_file()


def test_stage_costs_follow_the_multiply_adds(tiny_net: TransformerNet) -> None:
    costs = stage_costs(tiny_net)
    assert len(costs) == len(tiny_net.stages) and abs(sum(costs) - 1.0) < 1e-9 and min(costs) > 0
    # A residual block (two 3x3 convs of 32 channels at 1/4 scale) against the first layer (9x9, 3 -> 8,
    # full scale): 2 x 9 x 32 x 32 / 16 = 1152 against 81 x 3 x 8 = 1944 multiply-adds per input pixel.
    first, residual = costs[0], costs[len(tiny_net.encoder)]
    assert abs(residual / first - 1152 / 1944) < 1e-6


def test_progress_never_goes_back_and_spans_nest() -> None:
    reported: list[float] = []
    progress = Progress(reported.append)
    stage = progress.span(0.2, 0.6)
    stage(0.5)
    stage.span(0.5, 1.0)(1.0)
    progress(0.3)  # behind what was reported: dropped
    progress(1.5)  # clamped
    assert reported == pytest.approx([0.4, 0.6, 1.0])


def test_an_opaque_call_ticks_by_the_last_ones_pace() -> None:
    reported: list[float] = []
    pace = Pace()
    assert pace.expected_s(1000) is None
    pace.record(0.001, 1000)  # 1 us per pixel: 1e6 pixels should take a second
    with ticking(Progress(reported.append), pace.expected_s(1_000_000)):
        time.sleep(0.45)
    assert len(reported) >= 2 and reported == sorted(reported)
    assert 0 < reported[-1] <= TICK_CAP
    before = len(reported)
    with ticking(Progress(reported.append), None):  # no pace yet: nothing reported
        time.sleep(0.25)
    assert len(reported) == before


def test_tiled_adain_reports_the_statistics_pass_and_every_tile() -> None:
    model = tiny_adain(seed=2)
    image = torch.rand(3, 200, 264)
    style = model.style_stats(torch.rand(1, 3, 64, 48))
    reported: list[float] = []
    plain = stylize_tiled(model, style, image, tile_size=128, overlap=32)
    tracked = stylize_tiled(model, style, image, tile_size=128, overlap=32, progress=Progress(reported.append))
    tiles = 2 * 3  # 200 x 264 in 128-px tiles with 32 px of overlap
    assert reported == sorted(set(reported)) and reported[-1] == 1.0 and len(reported) == 2 * tiles
    assert torch.equal(plain, tracked)


def test_stage_costs_are_counted_once_per_net(tiny_net: TransformerNet, monkeypatch: pytest.MonkeyPatch) -> None:
    from fst.stylize import progress

    counted: list[TransformerNet] = []
    real = progress._count_stage_costs
    monkeypatch.setattr(progress, "_count_stage_costs", lambda net: counted.append(net) or real(net))
    stylizer = Stylizer(tiny_net, "tiny", torch.device("cpu"), performance=Performance(precision="fp32"))
    for _ in range(3):  # a job each: 11 ms per count was 13% of a 128-px job
        stylizer(photo_tensor(32, 40), Progress(lambda _: None))
    assert counted == [tiny_net]
