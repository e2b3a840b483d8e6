"""The at-scale queue: Huey on a real Redis server (`.ci/run` starts one and sets FST_TEST_REDIS_URL)."""

from __future__ import annotations

import os

import pytest
import redis

from fst.web.queue import JobQueue
from tests.web.conftest import make_client, register, submit, wait_job

REDIS_URL = os.environ.get("FST_TEST_REDIS_URL", "")
pytestmark = pytest.mark.skipif(not REDIS_URL, reason="FST_TEST_REDIS_URL is not set (.ci/run sets it)")


@pytest.fixture
def empty_redis() -> str:
    redis.Redis.from_url(REDIS_URL).flushdb()
    return REDIS_URL


def test_jobs_run_through_a_redis_queue(settings, empty_redis: str) -> None:
    with make_client(settings.replace(queue_url=empty_redis)) as client:
        assert type(client.app.state.connections.queue.huey).__name__ == "RedisHuey"
        register(client)
        jobs = [submit(client).json() for _ in range(3)]
        assert [wait_job(client, job["id"])["status"] for job in jobs] == ["done"] * 3
        assert client.get("/api/auth/me").json()["credits"] == 0
    assert JobQueue(empty_redis).pending() == 0  # every message consumed
