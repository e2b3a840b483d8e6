"""Load test of the web service on loopback: N users x M jobs at once, optionally killing processes.

    python benchmarks/web_load.py                         # 20 users x 5 jobs, 128 px photos
    python benchmarks/web_load.py --kill                  # SIGKILL the worker, then the web process, mid-load
    python benchmarks/web_load.py --users 4 --jobs 3 --json out.json

Runs `serve.py --workers 0` (the web process) and `serve.py worker` (the queue worker) as two
processes on a fresh SQLite data dir (or `--database-url`). Each user signs up and submits its jobs
concurrently with an Idempotency-Key, retrying on connection errors (a killed web process), then
polls until every job has ended. At the end the database itself is checked: every job done, each
finished exactly once (`completions == 1`), each user charged exactly once per job, no duplicates.

Reports API latency (p50/p95/max over all submits and polls), jobs per second end to end, and the
worker's own images per second on the same photo (the same `StyleWorker.stylize` path, in-process),
so the two can be compared. Any 5xx answer is retried like a connection error but counted, and
fails the run (`server_errors_5xx`); a 503 with `Retry-After` (the service too busy to take an
upload now) is retried when it asks and counted apart (`busy_503_retried_after`).

    python benchmarks/web_load.py --database-url postgresql+psycopg://u:p@127.0.0.1/db --queue-url redis://127.0.0.1:6379/13
"""

from __future__ import annotations

import argparse
import io
import json
import mailbox
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
from PIL import Image
from sqlalchemy import create_engine, text

from fst.resources import demo_dir
from fst.web.mail import links_in_inbox

REPO = Path(__file__).resolve().parents[1]
PASSWORD = "load test password"
DEADLINE_S = 900.0  # a run that has not ended by then is stuck: fail with a message, never hang


WORKER_READY = "Huey consumer started"  # huey.consumer's log line once it takes tasks


class Stuck(RuntimeError):
    """The load run stopped making progress."""


class Latencies:
    """API call latencies, and the 5xx answers (retried, counted: any fails the run); also when
    the clients sent their first submit and saw their last job end (the jobs' window as clients see
    it, without the sign-ups before it)."""

    def __init__(self) -> None:
        self.values: list[float] = []
        self.server_errors: list[str] = []
        self.busy_refusals: list[str] = []  # 503 + Retry-After: retried when asked, counted apart
        self.lock = threading.Lock()
        self.first_submit = float("inf")
        self.last_end = 0.0

    def submitting(self) -> None:
        with self.lock:
            self.first_submit = min(self.first_submit, time.perf_counter())

    def ended(self) -> None:
        with self.lock:
            self.last_end = max(self.last_end, time.perf_counter())

    def server_error(self, what: str) -> None:
        with self.lock:
            self.server_errors.append(what)

    def refused_busy(self, what: str) -> None:
        with self.lock:
            self.busy_refusals.append(what)

    def add(self, seconds: float) -> None:
        with self.lock:
            self.values.append(seconds)

    def percentile(self, q: float) -> float:
        ordered = sorted(self.values)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


class Service:
    """The web and worker processes, each restartable after a SIGKILL."""

    def __init__(self, data_dir: Path, port: int, database_url: str, workers: int, queue_url: str = "") -> None:
        self.port = port
        self.env = {
            **os.environ,
            "PYTHONPATH": str(REPO),
            "FST_WEB_DATA_DIR": str(data_dir),
            "FST_WEB_DATABASE_URL": database_url,
            "FST_WEB_QUEUE_URL": queue_url,
            "FST_WEB_PORT": str(port),
            "FST_WEB_WORKERS": str(workers),
            "FST_WEB_FREE_CREDITS": "1000",
            "FST_WEB_UPLOADS_PER_MINUTE": "1000",
            # Every simulated user signs up from loopback: one address, far over the sign-up limits.
            "FST_WEB_SIGNUPS_PER_HOUR": "100000",
            "FST_WEB_SIGNUPS_PER_HOUR_PER_NETWORK": "100000",
            "FST_WEB_JOB_LEASE_S": "3",  # a killed worker's job is retried within seconds
            "FST_WEB_COMPILE": os.environ.get("FST_WEB_COMPILE", "off"),
            # Billing on (offline: only the webhook secret is ever used), so charges are counted.
            "STRIPE_SECRET_KEY": "sk_test_load",
            "STRIPE_WEBHOOK_SECRET": "whsec_load",
        }
        self.log = open(data_dir.parent / "service.log", "ab")  # noqa: SIM115 (kept open for restarts)
        self.web = self.worker = None

    def start_web(self) -> None:
        command = [sys.executable, str(REPO / "serve.py"), "--workers", "0"]
        self.web = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=self.log)
        deadline = time.time() + 60
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/api/health", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            if time.time() > deadline:
                raise RuntimeError("the web process did not start; see service.log")
            time.sleep(0.2)

    def start_worker(self) -> None:
        command = [sys.executable, str(REPO / "serve.py"), "worker"]
        self.worker = subprocess.Popen(command, env=self.env, stdout=self.log, stderr=self.log)

    def wait_for_worker(self, log_path: Path, timeout_s: float = 300.0) -> None:
        """Until the worker consumes the queue: its start (torch, the style previews of a fresh data
        dir) is not the service's job rate, so the clock starts after it."""
        deadline = time.time() + timeout_s
        while WORKER_READY not in log_path.read_text(errors="replace"):
            if self.worker.poll() is not None or time.time() > deadline:
                raise RuntimeError("the worker did not start; see service.log")
            time.sleep(0.2)

    def kill(self, which: str) -> None:
        process = getattr(self, which)
        process.send_signal(signal.SIGKILL)
        process.wait()

    def stop(self) -> None:
        for process in (self.web, self.worker):
            if process and process.poll() is None:
                process.terminate()
                process.wait(timeout=60)


def photo_bytes(size: int) -> bytes:
    buffer = io.BytesIO()
    with Image.open(demo_dir() / "chelsea.jpg") as image:
        image.convert("RGB").resize((size, size * image.height // image.width)).save(buffer, "JPEG", quality=90)
    return buffer.getvalue()


def call(latencies: Latencies, method: Callable[..., httpx.Response], *args: Any, **kwargs: Any) -> httpx.Response:
    """A request retried on connection errors (the web process may be restarting) and on 5xx,
    which are counted: the service must never answer one. A 503 with `Retry-After` (the service
    busy, the upload not taken) is retried after the seconds it asks for, and counted apart."""
    for _ in range(600):
        start = time.perf_counter()
        try:
            response = method(*args, **kwargs)
        except httpx.TransportError:
            time.sleep(0.2)
            continue
        if response.status_code == 503 and "retry-after" in response.headers:
            latencies.refused_busy(f"{response.request.method} {response.request.url.path}")
            time.sleep(float(response.headers["retry-after"]))
            continue
        if response.status_code < 500:
            latencies.add(time.perf_counter() - start)
            return response
        latencies.server_error(f"{response.status_code} {response.request.method} {response.request.url.path}")
        time.sleep(0.2)
    raise RuntimeError(f"no answer from {args[0]}")


def newest_link(data_dir: Path, email: str, kinds: str = "verify|reset") -> tuple[str, str] | None:
    """(kind, token) of the newest link of `kinds` (`verify`, `reset` or both) the site wrote to its
    Maildir (the inbox) for `email`."""
    links = links_in_inbox(data_dir, email, kinds)
    return (links[-1].kind, links[-1].token) if links else None


def wait_for_token(data_dir: Path, email: str, kind: str, seconds: float = 20.0) -> str | None:
    """The newest `kind` token e-mailed to `email`; the mail is sent after the answer: wait for it."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        if link := newest_link(data_dir, email, kind):
            return link[1]
        time.sleep(0.2)
    return None


def sign_up(client: httpx.Client, data_dir: Path, email: str, latencies: Latencies) -> None:
    """Sign up and sign in by the e-mailed link (the free credits come with it). A sign-up answers
    202 whether or not the address has an account; if a web restart lost the link, or its answer,
    a second sign-up e-mails a new confirmation link (the address is not confirmed yet) or a reset
    link (it is: the same password set again), and the password then logs in."""
    credentials = {"email": email, "password": PASSWORD}
    response = call(latencies, client.post, "/api/auth/register", json=credentials)
    assert response.status_code == 202, response.text
    token = wait_for_token(data_dir, email, "verify")
    # The sign-up cookie (the client keeps it) confirms; the password too, should a retry lose it.
    confirm = {"token": token, "password": PASSWORD}
    if token and call(latencies, client.post, "/api/auth/verify", json=confirm).status_code == 200:
        return
    for _ in range(3):
        seen = newest_link(data_dir, email)
        call(latencies, client.post, "/api/auth/register", json=credentials)
        deadline = time.time() + 20.0  # the mail is sent after the answer
        while (link := newest_link(data_dir, email)) == seen and time.time() < deadline:
            time.sleep(0.2)
        if link is None or link == seen:
            continue
        kind, token = link
        if kind == "verify":
            confirm = {"token": token, "password": PASSWORD}
            if call(latencies, client.post, "/api/auth/verify", json=confirm).status_code == 200:
                return
            continue
        reset = {"token": token, "password": PASSWORD}
        call(latencies, client.post, "/api/auth/password-reset/confirm", json=reset)
        if call(latencies, client.post, "/api/auth/login", json=credentials).status_code == 200:
            return
    raise Stuck(f"cannot sign in {email} (mail in {data_dir / 'mail'})")


def user_session(
    base: str,
    data_dir: Path,
    index: int,
    jobs: int,
    style: str,
    photo: bytes,
    latencies: Latencies,
    pool: ThreadPoolExecutor,
    deadline: float,
) -> list[str]:
    client = httpx.Client(base_url=base, timeout=30)
    email = f"load{index}@example.com"
    sign_up(client, data_dir, email, latencies)

    def one_job(_: int) -> str:
        key = uuid.uuid4().hex  # the same key on every retry: a lost response never makes a second job
        files = {"photo": ("photo.jpg", photo, "image/jpeg")}
        latencies.submitting()
        submitted = call(
            latencies,
            client.post,
            "/api/jobs",
            files=files,
            data={"style": style},
            headers={"Idempotency-Key": key},
        )
        assert submitted.status_code in (200, 201), f"{email}: submit answered {submitted.status_code} {submitted.text}"
        job_id = submitted.json()["id"]
        while time.time() < deadline:
            status = call(latencies, client.get, f"/api/jobs/{job_id}").json()
            if status["status"] in ("done", "failed"):
                latencies.ended()
                return status["status"]
            time.sleep(1.0)  # the pages poll every 0.7 s
        raise Stuck(f"job {job_id} of {email} had not ended by the deadline")

    return list(pool.map(one_job, range(jobs)))


def worker_images_per_second(photo: bytes, style_name: str, data_dir: Path, count: int) -> float:
    """The worker's own speed: `StyleWorker.stylize` on the same photo, in-process, after one warm-up."""
    sys.path.insert(0, str(REPO))
    from fst.web import styles
    from fst.web.settings import Settings
    from fst.web.worker import StyleWorker

    settings = Settings(
        data_dir=data_dir,
        compile=os.environ.get("FST_WEB_COMPILE", "off"),
        torch_threads=int(os.environ.get("FST_WEB_TORCH_THREADS", "0")),  # as the worker process gets it
    )
    worker = StyleWorker(settings, factory=None)
    source = data_dir / "bench.jpg"
    source.write_bytes(photo)
    style = styles.find_style(settings.checkpoints_dir, style_name)
    if style is None:
        raise SystemExit(f"error: no shipped style {style_name!r} in {settings.checkpoints_dir}")
    worker.stylize(source, style, 1.0, False, data_dir / "bench-out.jpg")
    start = time.perf_counter()
    for _ in range(count):
        worker.stylize(source, style, 1.0, False, data_dir / "bench-out.jpg")
    return count / (time.perf_counter() - start)


def check_database(url: str, users: int, jobs: int) -> dict[str, float | None]:
    engine = create_engine(url)
    with engine.connect() as connection:
        query = "SELECT status, completions, attempts, created_at, started_at, finished_at FROM jobs"
        rows = connection.execute(text(query)).all()
        credits = connection.execute(text("SELECT credits FROM users")).scalars().all()
    engine.dispose()
    ran = [r for r in rows if r.finished_at and r.started_at]
    busy = sum(r.finished_at - r.started_at for r in ran)
    return {
        "jobs": len(rows),
        "done": sum(r.status == "done" for r in rows),
        "completed_exactly_once": sum(r.completions == 1 for r in rows),
        "retried": sum(r.attempts > 1 for r in rows),
        "users_charged_exactly": sum(c == 1000 - jobs for c in credits),
        "users": len(credits),
        # Seconds inside the worker (claim to finish) per job, summed: with one worker thread, the
        # worker's own rate during the load is jobs / busy seconds.
        "worker_busy_s": round(sum(r.finished_at - r.started_at for r in ran), 2),
        # The service's own job rate: from the first submit to the last job finished (the clients'
        # sign-ups before and their 1-s polling after are not the service's work).
        "first_job_waited_s": round(min(r.started_at for r in ran) - min(r.created_at for r in rows), 2)
        if ran
        else None,
        "service_s": round(max(r.finished_at for r in ran) - min(r.created_at for r in rows), 2) if ran else None,
        # Seconds the worker held no job between its first claim and its last finish: queue
        # latency and per-job overhead outside the claim.
        "worker_idle_s": round(max(r.finished_at for r in ran) - min(r.started_at for r in ran) - busy, 2)
        if ran
        else None,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--jobs", type=int, default=5, help="jobs per user, submitted at once")
    parser.add_argument("--size", type=int, default=128, help="photo width in pixels")
    parser.add_argument("--style", default="starry_night", help="the shipped style every job asks for")
    parser.add_argument("--workers", type=int, default=1, help="worker threads of the worker process")
    parser.add_argument("--kill", action="store_true", help="SIGKILL the worker, later the web process, and restart")
    parser.add_argument("--database-url", default="", help="default: SQLite in a temp dir")
    parser.add_argument("--queue-url", default="", help="e.g. redis://127.0.0.1:6379/13; default: Huey on SQLite")
    parser.add_argument("--json", type=Path, help="write the figures here")
    parser.add_argument("--deadline", type=float, default=DEADLINE_S, help="seconds before a stuck run fails")
    args = parser.parse_args()

    root = Path(tempfile.mkdtemp(prefix="fst-load-"))
    data_dir = root / "var"
    data_dir.mkdir()
    url = args.database_url or f"sqlite:///{data_dir / 'fst.db'}"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    service = Service(data_dir, port, url, args.workers, args.queue_url)
    photo = photo_bytes(args.size)
    latencies = Latencies()
    killed: list[str] = []
    # The worker's own speed, in-process, before and after the load: on a shared machine the
    # neighbours' load changes it, so both are reported.
    alone_before = worker_images_per_second(photo, args.style, root, 20)
    try:
        # The inbox, whole, before any reader: a Maildir half made by another thread (mail/ without
        # cur/ yet) failed a reader with FileNotFoundError.
        mailbox.Maildir(data_dir / "mail", create=True)
        service.start_web()
        service.start_worker()
        service.wait_for_worker(root / "service.log")
        total = args.users * args.jobs
        pool = ThreadPoolExecutor(total + args.users)
        start = time.perf_counter()
        deadline = time.time() + args.deadline
        base = f"http://127.0.0.1:{port}"
        futures = [
            pool.submit(user_session, base, data_dir, i, args.jobs, args.style, photo, latencies, pool, deadline)
            for i in range(args.users)
        ]
        if args.kill:
            engine = create_engine(url)

            def done_count() -> int:
                with engine.connect() as connection:
                    return connection.execute(text("SELECT count(*) FROM jobs WHERE status = 'done'")).scalar()

            for which, fraction in (("worker", 0.2), ("web", 0.5)):
                while done_count() < fraction * total:
                    # A user that gave up (refused, stuck) would leave this waiting for ever.
                    for future in futures:
                        if future.done() and future.exception():
                            raise future.exception()
                    if time.time() > deadline:
                        raise Stuck(f"only {done_count()}/{total} jobs done by the deadline")
                    time.sleep(0.1)
                service.kill(which)
                killed.append(f"{which} at {done_count()}/{total} done")
                time.sleep(1.0)
                service.start_web() if which == "web" else service.start_worker()
            engine.dispose()
        outcomes = [status for future in futures for status in future.result()]
        elapsed = time.perf_counter() - start
        pool.shutdown()
    except (Stuck, AssertionError, RuntimeError) as error:
        service.stop()
        print(f"FAILED: {error}\n(service log: {root / 'service.log'})", file=sys.stderr, flush=True)
        os._exit(1)  # the other users' threads may still be polling: do not wait for them
    finally:
        service.stop()
    figures = {
        "users": args.users,
        "jobs_per_user": args.jobs,
        "photo": f"{args.size} px wide JPEG",
        "killed": killed,
        "client_saw_done": outcomes.count("done"),
        "seconds": round(elapsed, 2),
        "jobs_per_s": round(len(outcomes) / elapsed, 2),
        # As the clients saw it from their first submit to the last job they saw end (their 1-s
        # polls included; the sign-ups before, Argon2 and the e-mailed link, left out).
        "jobs_per_s_from_first_submit": round(len(outcomes) / (latencies.last_end - latencies.first_submit), 2),
        "api_calls": len(latencies.values),
        "api_p50_ms": round(1000 * latencies.percentile(0.5), 1),
        "api_p95_ms": round(1000 * latencies.percentile(0.95), 1),
        "api_max_ms": round(1000 * max(latencies.values), 1),
        "server_errors_5xx": len(latencies.server_errors),
        "busy_503_retried_after": len(latencies.busy_refusals),
        **check_database(url, args.users, args.jobs),
    }
    busy = figures.pop("worker_busy_s")
    figures["worker_images_per_s_during_load"] = round(figures["done"] / busy, 2) if busy else None
    figures["worker_images_per_s_alone_before"] = round(alone_before, 2)
    figures["worker_images_per_s_alone_after"] = round(worker_images_per_second(photo, args.style, root, 20), 2)
    service_s = figures.pop("service_s")
    figures["service_jobs_per_s"] = round(figures["done"] / service_s, 2) if service_s else None
    during = figures["worker_images_per_s_during_load"]
    # The bar: end-to-end jobs/s within 10% of what the worker itself did meanwhile.
    figures["jobs_per_s_over_worker_during_load"] = round(figures["jobs_per_s"] / during, 3) if during else None
    if during:
        ratio = figures["jobs_per_s_from_first_submit"] / during
        figures["jobs_per_s_from_first_submit_over_worker_during_load"] = round(ratio, 3)
    if during and figures["service_jobs_per_s"]:
        figures["service_jobs_per_s_over_worker_during_load"] = round(figures["service_jobs_per_s"] / during, 3)
    shutil.rmtree(root, ignore_errors=True)
    print(json.dumps(figures, indent=2))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    total = args.users * args.jobs
    ok = figures["jobs"] == figures["done"] == figures["completed_exactly_once"] == total
    ok = ok and figures["users_charged_exactly"] == args.users
    if latencies.server_errors:
        ok = False
        print(f"FAILED: {len(latencies.server_errors)} answers were 5xx: {latencies.server_errors[:10]}")
    print("OK: every job done exactly once, each charged once, no 5xx" if ok else "FAILED: see the figures above")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
