from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fst.resources import demo_dir
from fst.stylize.pipeline import StylizeOptions, run

from .helpers import noise_image

REPO = Path(__file__).resolve().parents[2]


def make_folder(root: Path) -> dict[str, tuple[int, int]]:
    """Good files (name -> expected output size) plus three bad ones."""
    root.mkdir(parents=True)
    expected = {}
    for name, (w, h) in {"one.png": (1, 1), "three_by_seven.png": (3, 7), "odd.jpg": (255, 257)}.items():
        noise_image(w, h).save(root / name)
        expected[name] = (w, h)
    noise_image(40, 30, "RGBA").save(root / "alpha.png")
    expected["alpha.png"] = (40, 30)
    noise_image(33, 20, "CMYK").save(root / "cmyk.jpg")
    expected["cmyk.jpg"] = (33, 20)
    deep = (np.random.default_rng(1).integers(0, 65535, (24, 17))).astype(np.uint16)
    Image.fromarray(deep).save(root / "sixteen.png")
    expected["sixteen.png"] = (17, 24)
    rotated = noise_image(48, 20)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90: displayed as 20 x 48
    (root / "nested").mkdir()
    rotated.save(root / "nested" / "exif.jpg", exif=exif)
    expected["nested/exif.jpg"] = (20, 48)
    (root / "empty.jpg").write_bytes(b"")
    (root / "wrong_extension.png").write_text("this is text, not a PNG")
    good = root / "odd.jpg"
    (root / "truncated.jpg").write_bytes(good.read_bytes()[: good.stat().st_size // 3])
    return expected


def options(inputs: Path, out: Path, checkpoint: Path, **overrides: object) -> StylizeOptions:
    base = {"compile": "off", "progress": False, "batch_size": 2, "workers": 2, "precision": "fp32"}
    return StylizeOptions.create(str(inputs), out, [checkpoint], **{**base, **overrides})


def snapshot(folder: Path) -> dict[str, int]:
    return {p.relative_to(folder).as_posix(): p.stat().st_mtime_ns for p in folder.rglob("*") if p.is_file()}


def test_folder_with_bad_files(tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture) -> None:
    expected = make_folder(tmp_path / "in")
    out = tmp_path / "out"
    assert run(options(tmp_path / "in", out, tiny_checkpoint)) == 1
    errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed:")]
    assert len(errors) == 3
    assert {Path(line.split()[1].rstrip(":")).name for line in errors} == {
        "empty.jpg",
        "wrong_extension.png",
        "truncated.jpg",
    }
    written = snapshot(out)
    assert set(written) == set(expected)  # nothing else: no temp files, no outputs for bad inputs
    for name, size in expected.items():
        with Image.open(out / name) as image:
            assert image.size == size, name
            if name == "alpha.png":
                assert image.mode == "RGBA"
                with Image.open(tmp_path / "in" / name) as source:
                    assert np.array_equal(np.asarray(image)[..., 3], np.asarray(source)[..., 3])
    # A rerun resumes: nothing is rewritten, the bad files are reported again.
    assert run(options(tmp_path / "in", out, tiny_checkpoint)) == 1
    assert snapshot(out) == written
    assert run(options(tmp_path / "in", out, tiny_checkpoint, overwrite=True)) == 1
    assert snapshot(out) != written


def test_in_place_keeps_inputs(tmp_path: Path, tiny_checkpoint: Path) -> None:
    for index in range(3):
        noise_image(20, 16, seed=index).save(tmp_path / f"photo{index}.png")
    before = {p: p.read_bytes() for p in tmp_path.glob("*.png")}
    assert run(options(tmp_path, tmp_path, tiny_checkpoint)) == 0
    assert all(path.read_bytes() == data for path, data in before.items())
    assert len(list(tmp_path.glob("*_tiny.png"))) == 3
    after = snapshot(tmp_path)
    assert run(options(tmp_path, tmp_path, tiny_checkpoint)) == 0
    assert snapshot(tmp_path) == after


def test_tiled_path_and_controls(tmp_path: Path, tiny_checkpoint: Path) -> None:
    noise_image(90, 70).save(tmp_path / "big.png")
    out = tmp_path / "out"
    settings = {"max_pixels": 1000, "tile_size": 32, "overlap": 16, "strength": 0.5, "preserve_color": True}
    assert run(options(tmp_path / "big.png", out, tiny_checkpoint, **settings)) == 0
    with Image.open(out / "big.png") as image:
        assert image.size == (90, 70)


def test_missing_checkpoint_is_one_line(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    noise_image(8, 8).save(tmp_path / "a.png")
    assert run(options(tmp_path, tmp_path / "out", tmp_path / "nope.safetensors")) == 2
    assert capsys.readouterr().err.strip().count("\n") == 0


@pytest.mark.slow
def test_two_processes_cover_the_folder_once(tmp_path: Path, tiny_checkpoint: Path) -> None:
    for index in range(7):
        noise_image(16 + index, 12, seed=index).save(tmp_path / f"in{index}.png")
    out = tmp_path / "out"
    command = [sys.executable, str(REPO / "stylize.py"), str(tmp_path), "-c", str(tiny_checkpoint), "-o", str(out)]
    command += ["--compile", "off", "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "WORLD_SIZE": "2"}
    workers = [subprocess.Popen(command, env={**env, "RANK": str(rank)}, stderr=subprocess.PIPE) for rank in (0, 1)]
    logs = [worker.communicate(timeout=120)[1].decode() for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], logs
    counts = [int(log.rsplit("stylized ", 1)[1].split(",")[0]) for log in logs]
    assert sorted(counts) == [3, 4]
    assert sorted(p.name for p in out.iterdir()) == sorted(f"in{index}.png" for index in range(7))


@pytest.mark.slow
def test_demo_defaults_on_real_images(tmp_path: Path, tiny_checkpoint: Path) -> None:
    command = [sys.executable, str(REPO / "stylize.py"), str(demo_dir()), "-c", str(tiny_checkpoint)]
    result = subprocess.run(
        [*command, "-o", str(tmp_path), "--no-progress"], capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    assert len(list(tmp_path.glob("*.jpg"))) == 4 and str(tmp_path) in result.stderr


def test_a_one_off_image_or_a_few_small_ones_never_wait_for_a_compile(
    tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "empty_cache"
    monkeypatch.setenv("FST_CACHE_DIR", str(cache))
    one = tmp_path / "one"
    one.mkdir()
    noise_image(50, 40).save(one / "one.png")
    noise_image(80, 80, seed=1).save(one / "huge.png")  # tiled (over max_pixels): not work for the package
    auto = options(one, tmp_path / "out", tiny_checkpoint, compile="auto", max_pixels=5000, tile_size=48)
    assert run(auto) == 0
    assert "eager net" in capsys.readouterr().err
    # Two whole images, but far below `compile_min_mpx` (the demo's four photos are 0.9 MP).
    few = tmp_path / "few"
    few.mkdir()
    for index in range(2):
        noise_image(50, 40, seed=index).save(few / f"{index}.png")
    assert run(options(few, tmp_path / "out2", tiny_checkpoint, compile="auto", compile_min_mpx=0.1)) == 0
    assert "eager net" in capsys.readouterr().err
    assert not list(cache.glob("*.pt2"))


@pytest.mark.slow
def test_a_folder_job_compiles_once_and_later_runs_load_it(
    tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    cache = tmp_path / "cache"
    monkeypatch.setenv("FST_CACHE_DIR", str(cache))
    sizes = [(50, 40), (60, 33), (3, 7), (64, 64)]  # one package for every size, tiny ones included
    photos = tmp_path / "photos"
    photos.mkdir()
    for index, size in enumerate(sizes):
        noise_image(*size, seed=index).save(photos / f"in{index}.png")
    auto = {"compile": "auto", "compile_min_mpx": 0.005}  # 2 whole images of 5,000 px or more
    assert run(options(photos, tmp_path / "compiled", tiny_checkpoint, **auto)) == 0
    assert "compiled net" in capsys.readouterr().err
    assert len(list(cache.glob("*.pt2"))) == 1
    assert run(options(photos, tmp_path / "eager", tiny_checkpoint, compile="off")) == 0
    for index, size in enumerate(sizes):
        with (
            Image.open(tmp_path / "compiled" / f"in{index}.png") as fast,
            Image.open(tmp_path / "eager" / f"in{index}.png") as eager,
        ):
            assert fast.size == size
            difference = np.abs(np.asarray(fast, dtype=float) - np.asarray(eager, dtype=float))
            assert difference.max() <= 1  # fp32 both: rounding of the last bit at most
    # A later one-image run loads the cached package instead of waiting or going eager.
    single = tmp_path / "single"
    single.mkdir()
    noise_image(30, 30, seed=9).save(single / "x.png")
    capsys.readouterr()
    assert run(options(single, tmp_path / "later", tiny_checkpoint, **auto)) == 0
    assert "compiled net" in capsys.readouterr().err


def test_styles_load_on_one_thread_and_the_net_runs_on_all(
    tmp_path: Path, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import torch

    from fst.stylize import batch

    threads: dict[str, int] = {}
    load, make = batch.load_stylizer, batch.make_stylizer

    def recording_load(*args: object, **kwargs: object) -> object:
        threads["load"] = torch.get_num_threads()
        return load(*args, **kwargs)

    def recording_make(net: torch.nn.Module, *args: object) -> object:
        threads["layout"] = torch.get_num_threads()
        stylizer = make(net, *args)
        forward = stylizer._forward
        stylizer._forward = lambda *args: (threads.__setitem__("net", torch.get_num_threads()), forward(*args))[1]
        return stylizer

    monkeypatch.setattr(batch, "load_stylizer", recording_load)
    monkeypatch.setattr(batch, "make_stylizer", recording_make)
    noise_image(40, 32).save(tmp_path / "photo.png")
    before = torch.get_num_threads()
    torch.set_num_threads(2)  # so that "all" differs from one even where the runner has one core
    try:
        assert run(options(tmp_path / "photo.png", tmp_path / "out", tiny_checkpoint)) == 0
        assert threads == {"load": 1, "layout": 1, "net": 2}
        assert torch.get_num_threads() == 2
    finally:
        torch.set_num_threads(before)
