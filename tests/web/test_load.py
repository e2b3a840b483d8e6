"""The load test, small: users submit at once while the worker and then the web process are SIGKILLed
and restarted; every job must end done exactly once and every user be charged once per job."""

from __future__ import annotations

import email.message
import importlib.util
import json
import mailbox
import subprocess
import sys
import time

import httpx
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
    assert figures["users_charged_exactly"] == 4 and figures["server_errors_5xx"] == 0
    assert [entry.split()[0] for entry in figures["killed"]] == ["worker", "web"]


@pytest.mark.slow
def test_a_stuck_load_run_fails_with_a_message_instead_of_hanging(tmp_path) -> None:
    # The run once waited for ever when every submit was refused (402: the accounts were never
    # confirmed); a deadline far too short for 12 jobs stands in for any such stall here.
    command = [sys.executable, str(REPO / "benchmarks" / "web_load.py"), "--users", "2", "--jobs", "3", "--size", "64"]
    command += ["--kill", "--deadline", "0.5"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert result.returncode == 1, result.stdout[-2000:] + result.stderr[-2000:]
    # Either the main loop's count or a user's own poll may see the deadline first: both name it.
    assert "FAILED: " in result.stderr and "by the deadline" in result.stderr


def load_benchmark():
    spec = importlib.util.spec_from_file_location("web_load", REPO / "benchmarks" / "web_load.py")
    web_load = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(web_load)
    return web_load


def test_5xx_answers_are_counted_not_retried_silently() -> None:
    web_load = load_benchmark()
    request = httpx.Request("GET", "http://127.0.0.1/api/jobs/1")
    answers = iter([httpx.Response(500, request=request), httpx.Response(200, request=request)])
    latencies = web_load.Latencies()
    response = web_load.call(latencies, lambda *_: next(answers), "/api/jobs/1")
    assert response.status_code == 200 and latencies.server_errors == ["500 GET /api/jobs/1"]


def test_a_busy_answer_is_retried_when_it_asks_and_counted_apart() -> None:
    web_load = load_benchmark()
    request = httpx.Request("POST", "http://127.0.0.1/api/jobs")
    busy = httpx.Response(503, headers={"Retry-After": "0"}, request=request)
    answers = iter([busy, httpx.Response(201, request=request)])
    latencies = web_load.Latencies()
    response = web_load.call(latencies, lambda *_: next(answers), "/api/jobs")
    assert response.status_code == 201 and latencies.server_errors == []
    assert latencies.busy_refusals == ["POST /api/jobs"]


def test_the_e_mailed_links_are_found_by_kind(tmp_path) -> None:
    web_load = load_benchmark()
    box = mailbox.Maildir(tmp_path / "mail", create=True)
    for kind, token in (("verify", "v1"), ("reset", "r1"), ("verify", "v2")):
        message = email.message.EmailMessage()
        message["To"] = "ada@example.com"
        message.set_content(f"open http://site/{kind}?token={token}")
        box.add(message)
        time.sleep(0.01)  # Maildir names order deliveries by time
    assert web_load.newest_link(tmp_path, "ada@example.com") == ("verify", "v2")
    assert web_load.wait_for_token(tmp_path, "ada@example.com", "reset", seconds=1) == "r1"
    assert web_load.wait_for_token(tmp_path, "bob@example.com", "verify", seconds=0.3) is None
