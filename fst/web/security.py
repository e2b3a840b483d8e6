"""Passwords (Argon2 via pwdlib), login-session tokens, CSRF tokens and the sign-up cookie."""

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
SIGNUP_COOKIE = "fst_signup"
SESSION_DAYS = 30
SIGNUP_COOKIE_S = 7 * 86400  # as long as the confirmation link works

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


def signup_proof(secret_key: str, user_id: int, password_hash: str) -> str:
    """The sign-up cookie's value: an HMAC of the account and the password hash a sign-up chose.

    Opening the confirmation link in the browser that holds it confirms and signs in at once;
    elsewhere the link asks for that password (pre-account hijack: the mailbox owner must not be
    signed in to an account whose password someone else chose). The hash's salt is new for every
    sign-up, so the value matches only the link of that one sign-up, and it shows neither the
    account id (which would tell a taken address from a new one) nor anything to guess from.
    A key derived for this use only: no CSRF token (HMAC of a cookie the client chooses) equals it.
    """
    key = hmac.new(secret_key.encode(), b"fst sign-up cookie", hashlib.sha256).digest()
    return hmac.new(key, f"{user_id}:{password_hash}".encode(), hashlib.sha256).hexdigest()


def signup_proof_valid(secret_key: str, cookie: str | None, user_id: int, password_hash: str | None) -> bool:
    if not cookie or password_hash is None:
        return False
    return hmac.compare_digest(signup_proof(secret_key, user_id, password_hash), cookie)
