"""Sliding-window rate limits, counted in the database so every web process of a deployment shares
one count. A limit is a key (`login:<address>:<email>`, `upload:<user id>`) and a number per window.
"""

from __future__ import annotations

import math
import time

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fst.web.models import RateEvent
from fst.web.services.errors import ServiceError


class RateLimited(ServiceError):
    """Too many actions in the window; `retry_after` is whole seconds until one more is allowed."""

    status = 429

    def __init__(self, retry_after: int) -> None:
        super().__init__(f"too many requests; retry after {retry_after} s")
        self.retry_after = retry_after


def count_recent(session: Session, key: str, window_s: float) -> tuple[int, float | None]:
    """How many events `key` had in the last `window_s` seconds, and when the oldest of them was."""
    since = time.time() - window_s
    count, oldest = session.execute(
        select(func.count(RateEvent.id), func.min(RateEvent.at)).where(RateEvent.key == key, RateEvent.at > since)
    ).one()
    return int(count), oldest


def check_rate(session: Session, key: str, limit: int, window_s: float = 60.0) -> None:
    """Raise `RateLimited` when `key` already had `limit` events in the window (kept in the database,
    so every web process of a deployment shares one count)."""
    count, oldest = count_recent(session, key, window_s)
    if count >= limit:
        retry = (oldest or time.time()) + window_s - time.time()
        raise RateLimited(max(1, math.ceil(retry)))


def record_event(session: Session, key: str, window_s: float = 60.0) -> None:
    now = time.time()
    # Old events of this key are dropped as new ones come, so the table stays small.
    session.execute(delete(RateEvent).where(RateEvent.key == key, RateEvent.at < now - window_s))
    session.add(RateEvent(key=key, at=now))
