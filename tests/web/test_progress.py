"""A running job's progress and time left: the worker's estimate, stored, and shown by the API."""

from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from fst.stylize.engine import StyleEngine
from fst.web.worker import estimated_finish
from tests.web.conftest import make_client, register, submit, wait_job


def paced_engine(monkeypatch: pytest.MonkeyPatch, release: threading.Event) -> None:
    """Jobs report 10%, 20%, 30% a third of a second apart, then wait for `release` (previews run as usual)."""
    real = StyleEngine.stylize_file

    def paced(self, photo: Path, target: Path, style, controls=None, on_progress: Callable = lambda _: None) -> None:
        if "uploads" not in photo.parts:
            return real(self, photo, target, style, controls, on_progress)
        for fraction in (0.1, 0.2, 0.3):
            time.sleep(0.35)
            on_progress(fraction)
        release.wait(60)
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(photo, target)
        on_progress(1.0)

    monkeypatch.setattr(StyleEngine, "stylize_file", paced)


def test_a_running_job_shows_progress_and_time_left(settings, monkeypatch) -> None:
    release = threading.Event()
    paced_engine(monkeypatch, release)
    with make_client(settings) as client:
        register(client)
        job_id = submit(client).json()["id"]
        deadline = time.time() + 30
        seen = client.get(f"/api/jobs/{job_id}").json()
        while not (seen["status"] == "running" and seen["progress"] >= 0.3) and time.time() < deadline:
            time.sleep(0.05)
            seen = client.get(f"/api/jobs/{job_id}").json()
        release.set()
        # About 1 s for 30%: about 2.5 s left, counted down from when it was reported.
        assert seen["status"] == "running" and seen["progress"] == pytest.approx(0.3), seen
        assert seen["eta_s"] is not None and 0 <= seen["eta_s"] <= 10, seen
        done = wait_job(client, job_id)
        assert done["status"] == "done" and done["progress"] == 1.0 and done["eta_s"] is None


def test_a_queued_job_has_no_estimate(settings) -> None:
    with make_client(settings.replace(workers=0)) as client:
        register(client)
        job = submit(client).json()
        assert job["status"] == "queued" and job["eta_s"] is None and job["progress"] == 0.0


def test_the_estimate_is_the_pace_so_far() -> None:
    assert estimated_finish(started=100.0, now=110.0, fraction=0.25) == pytest.approx(140.0)
    assert estimated_finish(started=100.0, now=101.0, fraction=0.01) is None  # too early to tell
