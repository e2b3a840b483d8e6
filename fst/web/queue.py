"""The task queue (Huey): SQLite in the data dir on one machine, Redis at scale.

A message carries only a job id; everything else is in the database row, and the worker's claim
on that row (not the message) decides who runs it. Huey retries a task that raised (a database
that was briefly unreachable, say); a job's own failure is recorded in its row instead.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from pathlib import Path

from huey import Huey, RedisHuey, SqliteHuey
from huey.consumer import Consumer

log = logging.getLogger(__name__)

TASK_RETRIES = 3
_handler: Callable[[str], None] | None = None  # set in worker processes by `set_handler`


class JobQueue:
    """The Huey instance and its one task, `stylize(job_id)`.

    Args:
        queue_url: `sqlite:///path/queue.db` or `redis://host:6379/0`.
    """

    def __init__(self, queue_url: str) -> None:
        if queue_url.startswith("sqlite:///"):
            path = Path(queue_url.removeprefix("sqlite:///"))
            path.parent.mkdir(parents=True, exist_ok=True)
            self.huey: Huey = SqliteHuey("fst", filename=str(path), timeout=30)
        elif queue_url.startswith(("redis://", "rediss://", "unix://")):
            self.huey = RedisHuey("fst", url=queue_url)
        else:
            raise ValueError(f"queue URL {queue_url!r}: use sqlite:///path or redis://host:port/db")
        self._task = self.huey.task(retries=TASK_RETRIES, retry_delay=2, name="stylize")(_stylize)

    def enqueue(self, job_id: str) -> None:
        self._task(job_id)

    def pending(self) -> int:
        return self.huey.pending_count()

    def consumer(self, workers: int, embedded: bool) -> Consumer:
        """Threads that run tasks: threads share one process's loaded nets (and one GPU)."""
        kind = EmbeddedConsumer if embedded else Consumer
        return kind(self.huey, workers=workers, worker_type="thread", periodic=False, initial_delay=0.05, max_delay=0.5)


def _stylize(job_id: str) -> None:
    if _handler is None:
        raise RuntimeError("no job handler in this process: it is a web process, not a worker")
    _handler(job_id)


def set_handler(handler: Callable[[str], None] | None) -> None:
    global _handler
    _handler = handler


class EmbeddedConsumer(Consumer):
    """A consumer that runs inside another server: it leaves that server's signal handlers alone."""

    def _set_signal_handlers(self) -> None:
        pass
