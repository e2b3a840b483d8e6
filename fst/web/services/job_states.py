"""The job state machine in the database: charge and create, claim, heartbeat, finish, fail, recover.

Every transition is one conditional UPDATE, so a duplicated or retried queue message, two workers,
or a worker killed mid-job can never process a job twice to completion or charge it twice:

- create: the credit is taken (`credits >= cost`) and the row inserted in one transaction;
- claim: `queued` (or `running` with a lapsed lease) -> `running` with a fresh claim token;
- finish / fail: only by the holder of the current claim; fail refunds what was charged;
- recover: running jobs whose lease lapsed go back to `queued` and are enqueued again.
"""

from __future__ import annotations

import os
import secrets
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from sqlalchemy import Connection, func, select, update
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.sql.elements import ColumnElement

from fst.web.db import transaction
from fst.web.models import Job, User
from fst.web.services.errors import ServiceError

MAX_ATTEMPTS = 3  # a job that kills its worker this often fails (and is refunded) instead of looping


class NotEnoughCredits(ServiceError):
    def __init__(self) -> None:
        super().__init__("not enough credits: buy more to stylize", status=402)


@dataclass(frozen=True)
class Claim:
    """What a worker holds while it runs a job."""

    job_id: str
    token: str
    photo_path: str
    style: str
    style_image_path: str | None
    strength: float
    preserve_color: bool
    user_id: int


def new_job_id() -> str:
    return uuid.uuid4().hex


def this_worker() -> str:
    """Who holds a claim: this process, as "host:pid"."""
    return f"{socket.gethostname()}:{os.getpid()}"


def _is_dead(worker: str | None) -> bool:
    """A claim holder on this host whose process is gone (a killed server). Holders on other hosts,
    and live processes here, are left to their leases."""
    host, _, pid = (worker or "").rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)  # signal 0: only asks whether the process exists
    except ProcessLookupError:
        return True
    except PermissionError:  # exists, run by another user
        return False
    # Alive, or the pid was reused since: the lease still recovers the job, later.
    return False


def charge(session: Session, user_id: int, cost: int) -> None:
    """Take `cost` credits, atomically; raises `NotEnoughCredits` (and takes nothing) when short."""
    if cost == 0:
        return
    result = session.execute(
        update(User).where(User.id == user_id, User.credits >= cost).values(credits=User.credits - cost)
    )
    if result.rowcount != 1:
        raise NotEnoughCredits


def position(session: Session, job: Job) -> int:
    """1 for the next job to run, 2 behind it, ...; 0 once it runs or has ended."""
    if job.status != "queued":
        return 0
    ahead = session.scalar(select(func.count(Job.id)).where(Job.status == "queued", Job.created_at < job.created_at))
    return int(ahead or 0) + 1


def claim(factory: sessionmaker[Session], job_id: str, lease_s: float) -> Claim | None:
    """Take the job if it is waiting (or its last worker's lease lapsed); None if someone else has it."""
    token = secrets.token_hex(16)
    now = time.time()
    waiting = (Job.status == "queued") | ((Job.status == "running") & (Job.lease_until < now))
    statement = (
        update(Job)
        .where(Job.id == job_id, waiting, Job.attempts < MAX_ATTEMPTS)
        .values(
            status="running",
            claim=token,
            lease_until=now + lease_s,
            attempts=Job.attempts + 1,
            progress=0.0,
            eta_at=None,
            started_at=now,
            worker=this_worker(),
        )
        .returning(
            Job.id, Job.photo_path, Job.style, Job.style_image_path, Job.strength, Job.preserve_color, Job.user_id
        )
    )
    with _one_statement(factory) as connection:
        row = connection.execute(statement).first()
    if row is None:
        return None
    return Claim(
        job_id=row.id,
        token=token,
        photo_path=row.photo_path,
        style=row.style,
        style_image_path=row.style_image_path,
        strength=row.strength,
        preserve_color=row.preserve_color,
        user_id=row.user_id,
    )


@contextmanager
def _one_statement(factory: sessionmaker[Session]) -> Iterator[Connection]:
    """A connection in autocommit mode, for a transition that is one UPDATE (atomic by itself): one
    round trip to the database instead of BEGIN, the UPDATE and COMMIT. Between two jobs the worker
    waits for these round trips, so they set its idle time under load."""
    engine = factory.kw["bind"]
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        yield connection


def heartbeat(
    factory: sessionmaker[Session],
    held: Claim,
    lease_s: float,
    progress: float | None = None,
    eta_at: float | None = None,
) -> bool:
    """Extend the lease (and report progress and the expected finish time); False when the claim was lost."""
    values: dict[str, float] = {"lease_until": time.time() + lease_s}
    if progress is not None:
        values["progress"] = progress
    if eta_at is not None:
        values["eta_at"] = eta_at
    with _one_statement(factory) as connection:
        result = connection.execute(update(Job).where(Job.id == held.job_id, Job.claim == held.token).values(**values))
        return result.rowcount == 1


def finish(factory: sessionmaker[Session], held: Claim, result_path: str) -> bool:
    """Mark the job done; False when this worker no longer holds it (another one finishes it)."""
    with _one_statement(factory) as connection:
        result = connection.execute(
            update(Job)
            .where(Job.id == held.job_id, Job.claim == held.token, Job.status == "running")
            .values(
                status="done",
                progress=1.0,
                eta_at=None,
                result_path=result_path,
                completions=Job.completions + 1,
                finished_at=time.time(),
                claim=None,
                lease_until=None,
            )
        )
        return result.rowcount == 1


def fail(factory: sessionmaker[Session], held: Claim, reason: str) -> bool:
    """Mark the job failed with its reason and refund its credit, in one transaction."""
    with transaction(factory) as session:
        return _fail_and_refund(session, held.job_id, reason, Job.claim == held.token)


def _fail_and_refund(session: Session, job_id: str, reason: str, condition: ColumnElement[bool]) -> bool:
    job = session.get(Job, job_id)
    if job is None:
        return False
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(("queued", "running")), condition)
        .values(status="failed", error=reason[:500], finished_at=time.time(), claim=None, lease_until=None, eta_at=None)
    )
    if result.rowcount != 1:
        return False
    if job.charged:
        session.execute(update(User).where(User.id == job.user_id).values(credits=User.credits + job.charged))
    return True


def recover_dead_workers(factory: sessionmaker[Session], enqueue: Callable[[str], None]) -> list[str]:
    """At a worker's start: jobs held by processes of this host that no longer exist (the server was
    killed and restarted) go back to the queue now instead of after their lease (120 s by default,
    with the job shown "running" all that time). Returns the ids enqueued again."""
    with transaction(factory) as session:
        running = session.execute(select(Job.id, Job.worker, Job.claim).where(Job.status == "running")).all()
        again = []
        for job_id, worker, token in running:
            if not _is_dead(worker):
                continue
            result = session.execute(  # only if still held by that dead claim
                update(Job)
                .where(Job.id == job_id, Job.claim == token, Job.status == "running")
                .values(
                    status="queued", claim=None, lease_until=None, worker=None, enqueued_at=time.time(), eta_at=None
                )
            )
            if result.rowcount == 1:
                again.append(job_id)
    for job_id in again:
        enqueue(job_id)
    return again


def recover(
    factory: sessionmaker[Session], enqueue: Callable[[str], None], lease_s: float, queue_empty: bool = True
) -> list[str]:
    """Re-enqueue jobs a dead worker held (lapsed lease) and queued jobs whose message was lost.

    A queued job's message is taken as lost only when the queue is empty (`queue_empty`) and the job
    has waited a lease period: re-enqueueing every old queued job while a backlog drains flooded the
    queue with duplicates. Safe to run from every worker at once: a job enqueued twice is claimed
    once. Returns the ids enqueued again.
    """
    now = time.time()
    with transaction(factory) as session:
        crashed = session.scalars(
            select(Job.id).where(Job.status == "running", Job.lease_until < now, Job.attempts >= MAX_ATTEMPTS)
        ).all()
        for job_id in crashed:
            reason = f"the worker stopped {MAX_ATTEMPTS} times while running this job"
            _fail_and_refund(session, job_id, reason, Job.lease_until < now)
        session.execute(
            update(Job)
            .where(Job.status == "running", Job.lease_until < now)
            .values(status="queued", claim=None, lease_until=None, enqueued_at=0.0, eta_at=None)
        )
        # A queued job's message can be lost (a web process killed between commit and enqueue,
        # a queue without persistence): one not enqueued for a lease period is enqueued again.
        lost = (Job.status == "queued") & (Job.enqueued_at < (now - lease_s if queue_empty else 1.0))
        stale = session.scalars(select(Job.id).where(lost)).all()
        if stale:
            session.execute(update(Job).where(Job.id.in_(stale)).values(enqueued_at=now))
    for job_id in stale:
        enqueue(job_id)
    return list(stale)
