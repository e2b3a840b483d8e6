"""Passwords (Argon2 via pwdlib), login-session tokens and CSRF tokens."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

from pwdlib import PasswordHash
from sqlalchemy import delete
from sqlalchemy.orm import Session

from fst.web.models import LoginSession

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
