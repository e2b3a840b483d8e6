"""Accounts: sign up with the free credits, and log in with failed attempts rate-limited.

Password and sign-up policy (length, a common-password list, throttling per address) belong here.
"""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fst.web.models import User
from fst.web.security import hash_password, verify_password
from fst.web.services.errors import ServiceError
from fst.web.services.rate_limits import release, reserve
from fst.web.settings import Settings

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # Argon2 hashes any length; this bounds the work one request can ask for


def normalise_email(email: str) -> str:
    return email.strip().lower()


def register(session: Session, settings: Settings, email: str, password: str) -> User:
    """Create an account with the free credits (flushed, not committed).

    Raises:
        ServiceError: a bad e-mail or password (400), or an e-mail already taken (409).
    """
    email = normalise_email(email)
    if len(email) > 320 or not EMAIL.fullmatch(email):
        raise ServiceError("enter a valid e-mail address")
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ServiceError(f"the password needs at least {MIN_PASSWORD} characters")
    user = User(email=email, password_hash=hash_password(password), credits=settings.free_credits)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise ServiceError("an account with this e-mail exists; log in instead", status=409) from None
    return user


def authenticate(session: Session, settings: Settings, email: str, password: str, client: str) -> User:
    """The user for these credentials.

    Raises:
        RateLimited: too many failed attempts from this address for this e-mail (429).
        ServiceError: wrong e-mail or password (401); the failure is counted and committed.
    """
    email = normalise_email(email)
    # Every attempt is counted as a failure before Argon2 runs, and given back if it succeeds.
    attempt = reserve(session, f"login:{client}:{email}", settings.logins_per_minute)
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    # An unknown e-mail is checked against a dummy hash: as slow, so timing does not reveal accounts.
    if not verify_password(password, user.password_hash if user else None):
        raise ServiceError("wrong e-mail or password", status=401)
    assert user is not None  # verify_password is False without a hash
    release(session, attempt)
    return user
