"""The load test, small: users submit at once while the worker and then the web process are SIGKILLed
and restarted; every job must end done exactly once and every user be charged once per job."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.web.conftest import POSTGRES_URL, REPO, reset_postgres


@pytest.mark.slow
def test_kill_worker_and_web_under_load(tmp_path) -> None:
    command = [sys.executable, str(REPO / "benchmarks" / "web_load.py"), "--users", "4", "--jobs", "3", "--size", "64"]
    command += ["--kill", "--json", str(tmp_path / "figures.json")]
    if POSTGRES_URL:  # the at-scale database when there is one
        reset_postgres(POSTGRES_URL)
        command += ["--database-url", POSTGRES_URL]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    figures = json.loads((tmp_path / "figures.json").read_text())
    assert figures["done"] == figures["completed_exactly_once"] == figures["jobs"] == 12
    assert figures["users_charged_exactly"] == 4
    assert [entry.split()[0] for entry in figures["killed"]] == ["worker", "web"]


@pytest.mark.slow
def test_a_stuck_load_run_fails_with_a_message_instead_of_hanging(tmp_path) -> None:
    # The run once waited for ever when every submit was refused (402: the accounts were never
    # confirmed); a deadline far too short for 12 jobs stands in for any such stall here.
    command = [sys.executable, str(REPO / "benchmarks" / "web_load.py"), "--users", "2", "--jobs", "3", "--size", "64"]
    command += ["--kill", "--deadline", "0.5"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    assert "FAILED: only" in result.stderr and "by the deadline" in result.stderr
