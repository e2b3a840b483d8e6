"""A batch job killed mid-way leaves only complete outputs, and a rerun finishes the folder."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from .helpers import noise_image

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_sigkill_then_rerun_completes(tmp_path: Path, tiny_checkpoint: Path) -> None:
    sizes = {f"img{index:02d}.png": (160 + 8 * index, 120 + 4 * index) for index in range(16)}
    source = tmp_path / "in"
    source.mkdir()
    for index, (name, (width, height)) in enumerate(sizes.items()):
        noise_image(width, height, seed=index).save(source / name)
    out = tmp_path / "out"
    command = [sys.executable, str(REPO / "stylize.py"), str(source), "-c", str(tiny_checkpoint), "-o", str(out)]
    command += ["--compile", "off", "--no-progress", "--batch-size", "1", "--workers", "1"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}

    job = subprocess.Popen(command, env=env, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while not list(out.glob("*.png")) and time.monotonic() < deadline and job.poll() is None:
        time.sleep(0.02)
    job.send_signal(signal.SIGKILL)  # no cleanup handlers run: the worst case for partial files
    job.wait()
    done_before = len(list(out.glob("*.png")))
    assert 0 < done_before < len(sizes), "kill landed too early or too late to test resume"
    # A kill during an encode leaves its temp file behind; make sure one is there.
    missing = sorted(name for name in sizes if not (out / name).exists())[0]
    (out / f".{missing}.k1ll3d.part").write_bytes(b"\x89PNG half written")

    rerun = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert rerun.returncode == 0, rerun.stderr
    assert f"skipped {done_before} existing" in rerun.stderr
    leftovers = [p.name for p in out.iterdir() if p.name not in sizes]
    assert not leftovers  # no `.part` temp files, nothing else
    for name, size in sizes.items():
        with Image.open(out / name) as image:
            image.load()  # a truncated file fails here
            assert image.size == size, name
