"""`--engine ray`: the same outputs and failure lines as the local engine (decoding in the actors,
as on CPU nodes, or in decode tasks, as for GPU actors), nothing lost or written twice when an actor
is SIGKILLed, a rerun that writes nothing, and a job that starts its own Ray. One small local Ray
(2 CPUs) for all but the last."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import stylize
from fst.stylize.pipeline import run

from .helpers import noise_image
from .test_pipeline import make_folder, options, snapshot

ray = pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
from fst.stylize import ray_engine  # noqa: E402 (needs Ray)

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def local_ray() -> Iterator[None]:
    """CI's resources: 2 CPUs, a small object store; the engine uses a Ray it finds running."""
    ray.init(num_cpus=2, include_dashboard=False, object_store_memory=80 * 2**20, log_to_driver=False)
    yield
    ray.shutdown()


def failures(err: str) -> list[str]:
    return sorted(line for line in err.splitlines() if line.startswith("failed:"))


def assert_same_images(left: Path, right: Path) -> None:
    names = sorted(p.relative_to(left).as_posix() for p in left.rglob("*") if p.is_file())
    assert names == sorted(p.relative_to(right).as_posix() for p in right.rglob("*") if p.is_file())
    assert names
    for name in names:
        with Image.open(left / name) as a, Image.open(right / name) as b:
            assert a.mode == b.mode and np.array_equal(np.asarray(a), np.asarray(b)), name


@pytest.mark.parametrize("decode_tasks", [False, True], ids=["decode_in_actor", "decode_tasks"])
def test_ray_writes_what_local_writes_and_a_rerun_writes_nothing(
    tmp_path: Path,
    tiny_checkpoint: Path,
    local_ray: None,
    decode_tasks: bool,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture,
) -> None:
    monkeypatch.setattr(ray_engine, "decode_in_tasks", lambda gpus: decode_tasks)  # CI has no GPU
    make_folder(tmp_path / "in")  # 7 good files (alpha, CMYK, 16-bit, EXIF) and 3 bad ones
    second = tiny_checkpoint.with_name("second.safetensors")
    second.write_bytes(tiny_checkpoint.read_bytes())  # two styles: one subfolder each
    # 255x257 runs in tiles over 20k pixels; with decode tasks, it travels to the actor as a path.
    flags = ["-c", str(tiny_checkpoint), str(second), "--compile", "off", "--precision", "fp32"]
    flags += ["--strength", "0.7", "--max-pixels", "20000", "--tile-size", "128", "--overlap", "32"]
    flags += ["--format", "png", "--no-progress"]
    assert stylize.main([str(tmp_path / "in"), "-o", str(tmp_path / "local"), *flags]) == 1
    local_failures = failures(capsys.readouterr().err)
    assert len(local_failures) == 6  # 3 bad files x 2 styles

    ray_flags = [str(tmp_path / "in"), "-o", str(tmp_path / "ray"), *flags, "--engine", "ray"]
    assert stylize.main(ray_flags) == 1
    err = capsys.readouterr().err
    assert failures(err) == local_failures
    assert "stylized 14, skipped 0 existing, failed 6" in err
    assert_same_images(tmp_path / "local", tmp_path / "ray")
    with Image.open(tmp_path / "ray" / "tiny" / "alpha.png") as image:
        assert image.mode == "RGBA"  # alpha kept (with decode tasks: carried through the object store)

    written = snapshot(tmp_path / "ray")
    assert stylize.main(ray_flags) == 1  # the bad files fail again; nothing is rewritten
    err = capsys.readouterr().err
    assert "stylized 0, skipped 14 existing, failed 6" in err and failures(err) == local_failures
    assert snapshot(tmp_path / "ray") == written


def test_a_killed_actor_is_replaced_and_every_output_is_written_once(
    tmp_path: Path, tiny_checkpoint: Path, local_ray: None, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    source = tmp_path / "in"
    source.mkdir()
    for index in range(12):
        noise_image(64 + 4 * index, 48 + 2 * index, seed=index).save(source / f"img{index:02d}.png")
    assert run(options(source, tmp_path / "local", tiny_checkpoint)) == 0

    marker = tmp_path / "killed"
    # Batches of 4 on the one CPU actor, two at a time: it SIGKILLs itself before its 3rd image,
    # once, after the first two outputs of that batch are on disk but not reported. Ray restarts it
    # and resends both batches: those two must be skipped, the others written.
    monkeypatch.setenv("FST_RAY_KILL_ACTOR_AT", f"3:{marker}")
    capsys.readouterr()
    assert run(options(source, tmp_path / "ray", tiny_checkpoint, engine="ray", batch_size=1)) == 0
    assert marker.exists(), "the actor was never killed: the test tested nothing"
    assert "stylized 12, skipped 0 existing, failed 0" in capsys.readouterr().err
    assert_same_images(tmp_path / "local", tmp_path / "ray")  # all 12, no temp files, no extras
    killed_at = marker.stat().st_mtime_ns
    before_kill = [p.name for p in (tmp_path / "ray").iterdir() if p.stat().st_mtime_ns <= killed_at]
    assert len(before_kill) == 2, f"written before the kill and kept (not rewritten by the retry): {before_kill}"


def test_a_job_starts_its_own_ray_and_stops_it(tmp_path: Path, tiny_checkpoint: Path) -> None:
    """The CLI with no Ray running: Ray starts in a thread while the job plans (its processes must
    outlive that thread's start-up work), the job writes everything, and Ray is stopped at exit."""
    source = tmp_path / "in"
    source.mkdir()
    for index in range(3):
        noise_image(40 + index, 30, seed=index).save(source / f"img{index}.png")
    command = [sys.executable, str(REPO / "stylize.py"), str(source), "-o", str(tmp_path / "out")]
    command += ["-c", str(tiny_checkpoint), "--compile", "off", "--no-progress", "--engine", "ray"]
    env = {key: value for key, value in os.environ.items() if key != "RAY_ADDRESS"}
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert result.returncode == 0, result.stderr[-2000:]
    assert "stylized 3, skipped 0 existing, failed 0" in result.stderr
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0.png", "img1.png", "img2.png"]
