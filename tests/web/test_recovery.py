"""Nothing lost: restarts keep data, dead workers' jobs are retried and finished once, failures refund."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

from sqlalchemy import select

from fst.web.models import Job, User
from fst.web.services import job_states
from fst.web.worker import StyleWorker
from tests.web.conftest import PASSWORD, REPO, make_client, register, submit, wait_job


def job_row(client, job_id: str) -> Job:
    with client.app.state.connections.factory() as session:
        return session.get(Job, job_id)


def test_data_survives_a_restart(settings) -> None:
    with make_client(settings) as client:
        register(client)
        job = wait_job(client, submit(client).json()["id"])
    with make_client(settings) as client:
        assert (
            client.post("/api/auth/login", json={"email": "ada@example.com", "password": PASSWORD}).status_code == 200
        )
        assert client.get(f"/api/jobs/{job['id']}").json()["status"] == "done"
        assert client.get(job["result_url"]).status_code == 200
        assert client.get("/api/auth/me").json()["credits"] == 2


def test_duplicate_messages_run_a_job_once(client) -> None:
    register(client)
    job = wait_job(client, submit(client).json()["id"])
    queue = client.app.state.connections.queue
    queue.enqueue(job["id"])
    queue.enqueue(job["id"])
    time.sleep(1.0)
    row = job_row(client, job["id"])
    assert (row.status, row.completions, row.attempts) == ("done", 1, 1)


def test_failed_job_says_why_and_is_refunded(settings) -> None:
    with make_client(settings.replace(workers=0)) as client:  # no consumer: the test runs the worker
        register(client)
        job = submit(client).json()
        assert client.get("/api/auth/me").json()["credits"] == 2
        row = job_row(client, job["id"])
        photo = settings.data_dir / row.photo_path
        photo.write_bytes(photo.read_bytes()[:100])  # damaged on disk after the upload checks
        StyleWorker(settings, client.app.state.connections.factory).run(job["id"])
        failed = client.get(f"/api/jobs/{job['id']}").json()
        assert failed["status"] == "failed" and "truncated" in failed["error"]
        assert client.get("/api/auth/me").json()["credits"] == 3  # refunded


def test_lapsed_lease_is_retried_and_charged_once(settings) -> None:
    settings = settings.replace(workers=0, job_lease_s=0.5)
    with make_client(settings) as client:
        register(client)
        job = submit(client).json()
        connections = client.app.state.connections
        lease = settings.job_lease_s
        assert job_states.claim(connections.factory, job["id"], lease) is not None  # a worker that then dies
        assert job_states.claim(connections.factory, job["id"], lease) is None  # held: nobody else runs it
        time.sleep(0.6)
        enqueued = []
        assert job_states.recover(connections.factory, enqueued.append, settings.job_lease_s) == [job["id"]] == enqueued
        StyleWorker(settings, connections.factory).run(job["id"])
        row = job_row(client, job["id"])
        assert (row.status, row.attempts, row.completions) == ("done", 2, 1)
        assert client.get("/api/auth/me").json()["credits"] == 2


def test_a_job_that_keeps_killing_workers_fails_and_is_refunded(settings) -> None:
    settings = settings.replace(workers=0, job_lease_s=0.2)
    with make_client(settings) as client:
        register(client)
        job = submit(client).json()
        factory = client.app.state.connections.factory
        for _ in range(job_states.MAX_ATTEMPTS):
            assert job_states.claim(factory, job["id"], settings.job_lease_s) is not None
            time.sleep(0.3)
            job_states.recover(factory, lambda _id: None, settings.job_lease_s)
        failed = client.get(f"/api/jobs/{job['id']}").json()
        assert failed["status"] == "failed" and "stopped 3 times" in failed["error"]
        assert client.get("/api/auth/me").json()["credits"] == 3


def start_worker(settings, stall_s: float, lease_s: float = 2.0) -> subprocess.Popen:
    env = {
        **os.environ,
        "FST_WEB_DATA_DIR": str(settings.data_dir),
        "FST_WEB_DATABASE_URL": settings.resolved_database_url(),
        "FST_WEB_SECRET_KEY": settings.secret_key,
        "FST_WEB_DEVICE": "cpu",
        "FST_WEB_COMPILE": "off",
        "FST_WEB_JOB_LEASE_S": str(lease_s),
        "FST_WEB_JOB_STALL_S": str(stall_s),
        "PYTHONPATH": str(REPO),
    }
    return subprocess.Popen([sys.executable, str(REPO / "serve.py"), "worker"], env=env, stderr=subprocess.DEVNULL)


def test_sigkilled_worker_process_job_finishes_once(settings) -> None:
    with make_client(settings.replace(workers=0)) as client:  # the web process; workers are subprocesses
        register(client)
        job = submit(client).json()
        worker = start_worker(settings, stall_s=60)  # holds the job until it is killed
        try:
            deadline = time.time() + 60
            while client.get(f"/api/jobs/{job['id']}").json()["status"] != "running":
                assert time.time() < deadline and worker.poll() is None, "the worker never claimed the job"
                time.sleep(0.2)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = start_worker(settings, stall_s=0)
            done = wait_job(client, job["id"], timeout=90)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        row = job_row(client, job["id"])
        assert done["status"] == "done" and (row.attempts, row.completions) == (2, 1)
        with client.app.state.connections.factory() as session:
            assert session.scalar(select(User.credits)) == 2  # charged once


def test_queued_jobs_are_enqueued_again_only_when_their_message_is_lost(settings) -> None:
    settings = settings.replace(workers=0, job_lease_s=0.2)
    with make_client(settings) as client:
        register(client)
        job = submit(client).json()
        connections = client.app.state.connections
        lease = settings.job_lease_s
        time.sleep(0.3)
        assert connections.queue.pending() == 1  # its message waits in the queue: nothing is lost
        # A backlog: re-enqueueing waiting jobs every round flooded the queue with duplicates.
        assert job_states.recover(connections.factory, connections.queue.enqueue, lease, queue_empty=False) == []
        connections.queue.huey.flush()  # the message is lost (a queue without persistence, say)
        assert job_states.recover(connections.factory, connections.queue.enqueue, lease, queue_empty=True) == [
            job["id"]
        ]
        assert connections.queue.pending() == 1


def test_a_killed_servers_jobs_are_recovered_at_start_not_after_the_lease(settings) -> None:
    with make_client(settings.replace(workers=0)) as client:
        register(client)
        job = submit(client).json()
        worker = start_worker(settings, stall_s=60, lease_s=120)  # a lease far longer than the test may wait
        try:
            deadline = time.time() + 60
            while client.get(f"/api/jobs/{job['id']}").json()["status"] != "running":
                assert time.time() < deadline and worker.poll() is None, "the worker never claimed the job"
                time.sleep(0.2)
            worker.send_signal(signal.SIGKILL)
            worker.wait()
            worker = start_worker(settings, stall_s=0, lease_s=120)
            done = wait_job(client, job["id"], timeout=60)
        finally:
            worker.terminate()
            worker.wait(timeout=30)
        assert done["status"] == "done" and job_row(client, job["id"]).completions == 1


def test_a_jobs_claim_heartbeat_and_finish_are_one_statement_each(settings) -> None:
    # Load test (issue 26): between two jobs the worker waited for the finish's and the claim's
    # round trips (BEGIN, UPDATE, SELECT, COMMIT: 5 ms a job on the loaded machine, 10% of its time).
    # Each transition is one UPDATE: it needs no transaction around it.
    from sqlalchemy import event

    with make_client(settings.replace(workers=0)) as client:
        register(client)
        job_id = submit(client).json()["id"]
        factory = client.app.state.connections.factory
        engine = factory.kw["bind"]
        statements: list[tuple[str, str | None]] = []

        def seen(connection, _cursor, statement, *_args) -> None:
            statements.append((statement.split()[0], connection.get_execution_options().get("isolation_level")))

        event.listen(engine, "before_cursor_execute", seen)
        held = job_states.claim(factory, job_id, lease_s=60)
        assert held is not None and held.style == "starry_night" and held.user_id == 1
        assert job_states.heartbeat(factory, held, 60, progress=0.5)
        assert job_states.finish(factory, held, f"results/1/{job_id}.png")
        assert statements == [("UPDATE", "AUTOCOMMIT")] * 3
        assert job_states.claim(factory, job_id, lease_s=60) is None  # done: nobody takes it again
        row = job_row(client, job_id)
        assert (row.status, row.completions, row.attempts, row.progress) == ("done", 1, 1, 1.0)
