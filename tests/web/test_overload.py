"""More requests at once than the web process has threads and database connections (issue 26, load):
each test failed on the code before its fix."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from fastapi.testclient import TestClient

from fst.web import uploads
from fst.web.app import create_app
from tests.web.conftest import image_bytes, make_client, register, submit


def slowed_checks(monkeypatch: pytest.MonkeyPatch, seconds: float) -> list[int]:
    """Make every upload check take `seconds` (the decode on a busy CPU); returns [now, most] of
    the checks that ran at once."""
    running = [0, 0]
    lock = threading.Lock()
    check = uploads.check_image

    def slow_check(*args, **kwargs) -> uploads.CheckedImage:
        with lock:
            running[0] += 1
            running[1] = max(running)
        try:
            time.sleep(seconds)
            return check(*args, **kwargs)
        finally:
            with lock:
                running[0] -= 1

    monkeypatch.setattr(uploads, "check_image", slow_check)
    return running


def test_a_burst_of_submits_and_polls_never_runs_out_of_connections(settings, monkeypatch) -> None:
    # 800 submits at once held all 40 connections for over a minute and answered 500: a request kept
    # its connection while it waited for a thread (after the handler, for the answer's validation).
    # Three connections, slow upload checks, every submit admitted at once and four times as many
    # requests as threads: a connection held while waiting for a thread is a 500 after 5 s here.
    settings = settings.replace(workers=0, uploads_per_minute=1000, stripe_secret_key="", stripe_webhook_secret="")
    settings = settings.replace(db_pool_size=3, db_max_overflow=0, db_pool_timeout_s=5.0, upload_slots=100)
    # The 500s are counted, not raised.
    with TestClient(create_app(settings), base_url="http://testserver", raise_server_exceptions=False) as client:
        register(client)
        job_id = submit(client).json()["id"]
        slowed_checks(monkeypatch, 0.05)

        def request(index: int) -> int:
            if index % 4 == 0:
                return submit(client, image_bytes(32, 24)).status_code
            return client.get(f"/api/jobs/{job_id}").status_code

        with ThreadPoolExecutor(160) as pool:
            statuses = list(pool.map(request, range(160)))
    assert statuses.count(201) == 40 and statuses.count(200) == 120, sorted(set(statuses))


def test_no_connection_is_held_while_an_upload_is_checked_and_stored(settings, monkeypatch) -> None:
    # The rate-limit count's transaction stayed open through the checks and the decode (CPU work,
    # slow on a busy machine), holding a connection that other requests waited for.
    with make_client(settings.replace(workers=0)) as client:
        register(client)
        pool = client.app.state.connections.engine.pool
        held: list[int] = []  # connections checked out during each step

        def counting(step):
            def counted(*args, **kwargs):
                held.append(pool.checkedout())
                return step(*args, **kwargs)

            return counted

        monkeypatch.setattr(uploads, "check_image", counting(uploads.check_image))
        monkeypatch.setattr(uploads, "store_image", counting(uploads.store_image))
        assert submit(client).status_code == 201
    assert held == [0, 0]


def test_uploads_beyond_the_slots_wait_their_turn(settings, monkeypatch) -> None:
    settings = settings.replace(workers=0, stripe_secret_key="", stripe_webhook_secret="", upload_slots=2)
    with make_client(settings) as client:
        register(client)
        running = slowed_checks(monkeypatch, 0.2)
        with ThreadPoolExecutor(8) as pool:
            statuses = list(pool.map(lambda _: submit(client).status_code, range(8)))
    assert statuses == [201] * 8 and running[1] == 2


def test_an_upload_that_waits_too_long_is_answered_503_with_retry_after(settings, monkeypatch) -> None:
    settings = settings.replace(workers=0, stripe_secret_key="", stripe_webhook_secret="")
    with make_client(settings.replace(upload_slots=1, upload_wait_s=0.3)) as client:
        register(client)
        slowed_checks(monkeypatch, 1.5)
        with ThreadPoolExecutor(3) as pool:
            answers = list(pool.map(lambda _: submit(client), range(3)))
    assert sorted(answer.status_code for answer in answers) == [201, 503, 503]
    busy = [answer for answer in answers if answer.status_code == 503]
    assert all(int(answer.headers["Retry-After"]) >= 1 and "busy" in answer.json()["detail"] for answer in busy)
