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


def reserve(session: Session, key: str, limit: int, window_s: float = 60.0) -> int:
    """Count one event for `key` first, then verify the count; commits. Returns the event's id (for
    `release`).

    Reserve-then-verify: checking first and counting after the slow part (Argon2, the upload checks)
    let 30 concurrent wrong logins all through. Each request's own event is committed before it
    counts, so of N concurrent requests the last to count sees all N: never more than `limit` pass.

    Raises:
        RateLimited: `key` already had `limit` events in the window; this one is not kept.
    """
    now = time.time()
    # Old events of this key are dropped as new ones come, so the table stays small.
    session.execute(delete(RateEvent).where(RateEvent.key == key, RateEvent.at < now - window_s))
    event = RateEvent(key=key, at=now)
    session.add(event)
    session.commit()
    count, oldest = count_recent(session, key, window_s)
    session.commit()  # ends the count's transaction: its connection is not held through the slow part
    if count > limit:
        release(session, event.id)
        retry = (oldest or now) + window_s - time.time()
        raise RateLimited(max(1, math.ceil(retry)))
    return event.id


def release(session: Session, event_id: int) -> None:
    """Give a reserved event back (a login that succeeded is not a failure); commits."""
    session.execute(delete(RateEvent).where(RateEvent.id == event_id))
    session.commit()
