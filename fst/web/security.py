"""Passwords (Argon2 via pwdlib), login-session tokens, CSRF tokens and the rate limits."""

from __future__ import annotations

import hashlib
import hmac
import math
import secrets
import time

from pwdlib import PasswordHash
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from fst.web.db import LoginSession, RateEvent

SESSION_COOKIE = "fst_session"
CSRF_COOKIE = "fst_csrf"
SESSION_DAYS = 30

_passwords = PasswordHash.recommended()  # Argon2id with pwdlib's current parameters
# Verified against when the e-mail is unknown, so a login takes as long either way.
_DUMMY_HASH = _passwords.hash("not a real password")


def hash_password(password: str) -> str:
    return _passwords.hash(password)


def verify_password(password: str, password_hash: str | None) -> bool:
    if password_hash is None:
        _passwords.verify(password, _DUMMY_HASH)
        return False
    return _passwords.verify(password, password_hash)


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_login_session(session: Session, user_id: int) -> str:
    """Store a new login session and return its token (the cookie value); the table keeps a hash."""
    token = secrets.token_urlsafe(32)
    now = time.time()
    expires = now + SESSION_DAYS * 86400
    # The user's expired sessions go as a new one comes, so the table does not grow forever.
    session.execute(delete(LoginSession).where(LoginSession.user_id == user_id, LoginSession.expires_at < now))
    session.add(LoginSession(token_hash=token_hash(token), user_id=user_id, expires_at=expires))
    return token


def session_user_id(session: Session, token: str | None) -> int | None:
    if not token:
        return None
    row = session.get(LoginSession, token_hash(token))
    if row is None or row.expires_at < time.time():
        return None
    return row.user_id


def end_login_session(session: Session, token: str | None) -> None:
    if token:
        session.execute(delete(LoginSession).where(LoginSession.token_hash == token_hash(token)))


def csrf_token(secret_key: str, csrf_cookie: str) -> str:
    """The form token for a browser: an HMAC of its CSRF cookie, so it cannot be forged without the key."""
    return hmac.new(secret_key.encode(), csrf_cookie.encode(), hashlib.sha256).hexdigest()


def csrf_valid(secret_key: str, csrf_cookie: str | None, submitted: str | None) -> bool:
    if not csrf_cookie or not submitted:
        return False
    return hmac.compare_digest(csrf_token(secret_key, csrf_cookie), submitted)


class RateLimited(Exception):
    """Too many actions in the window; `retry_after` is whole seconds until one more is allowed."""

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
