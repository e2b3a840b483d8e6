"""Accounts: sign up (the free credits come when the e-mail is confirmed: `account.verify_email`),
and log in with failed attempts rate-limited.

Neither tells whether an address has an account: sign-up answers the same for a new and a taken
address (its owner is told by e-mail instead), and an account signs in first by the link e-mailed
to it, so signing up and then logging in with the same password cannot tell either.

Password and sign-up policy (length, a common-password list, throttling per address) belong here.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session
from zxcvbn import zxcvbn

from fst.web.models import User
from fst.web.security import hash_password, verify_password
from fst.web.services.errors import ServiceError
from fst.web.services.rate_limits import release, reserve
from fst.web.settings import Settings

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 8
MAX_PASSWORD = 1024  # Argon2 hashes any length; this bounds the work one request can ask for
MIN_STRENGTH = 3  # zxcvbn's score, 0-4: 3 is "safely unguessable" for online attacks (10^8 guesses)
STRENGTH_CHARS = 100  # zxcvbn's matching grows fast with length; a 100-character prefix decides it
HOUR = 3600.0
LOGIN_FAILED = "wrong e-mail or password (a new account signs in first by the link e-mailed to it)"


@dataclass(frozen=True)
class SignUp:
    """What a sign-up did: created `user`, or found the address taken (`created` False: the
    caller answers as for a new account and e-mails the owner). `password_hash` is the password
    this sign-up chose: for a taken, unconfirmed address it goes with the new confirmation link."""

    user: User
    created: bool
    password_hash: str


def normalise_email(email: str) -> str:
    return email.strip().lower()


def check_password(password: str, email: str = "") -> None:
    """Raise `ServiceError` (400) for a password too short, too long, or easy to guess: common
    passwords (`password`, `12345678`), keyboard walks, dates and the e-mail itself score low in zxcvbn's
    frequency lists (shipped inside the library, no network)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ServiceError(f"the password needs {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    verdict = zxcvbn(password[:STRENGTH_CHARS], user_inputs=[email, *email.split("@")])
    if verdict["score"] < MIN_STRENGTH:
        hint = verdict["feedback"]["warning"] or "add a few uncommon words"
        raise ServiceError(f"this password is too easy to guess: {hint.rstrip('.')}. A few random words work well.")


def network(client: str) -> str:
    """The client's network: neighbours in one /24 (IPv4) or /64 (IPv6) share a sign-up budget."""
    try:
        address = ipaddress.ip_address(client)
    except ValueError:
        return client
    prefix = 24 if address.version == 4 else 64
    return str(ipaddress.ip_network(f"{address}/{prefix}", strict=False))


def register(session: Session, settings: Settings, email: str, password: str, client: str = "unknown") -> SignUp:
    """Create an unverified account, no credits yet (flushed, not committed), or find the address
    taken. Both run the password hash, so they take as long; send `account.sign_up_mail`.

    Raises:
        ServiceError: a bad e-mail or password (400).
        RateLimited: too many sign-ups from this address or network in the last hour (429).
    """
    email = normalise_email(email)
    if len(email) > 320 or not EMAIL.fullmatch(email):
        raise ServiceError("enter a valid e-mail address")
    check_password(password, email)
    # Counted after the cheap checks (a typo costs nothing), before Argon2 and the free credits.
    reserve(session, f"signup:address:{client}", settings.signups_per_hour, HOUR)
    reserve(session, f"signup:network:{network(client)}", settings.signups_per_hour_per_network, HOUR)
    password_hash = hash_password(password)  # also for a taken address: the same time either way
    taken = session.scalar(select(User).where(func.lower(User.email) == email))
    if taken is not None:
        return SignUp(taken, created=False, password_hash=password_hash)
    user = User(email=email, password_hash=password_hash, credits=0)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:  # a concurrent sign-up for the address won
        session.rollback()
        taken = session.scalar(select(User).where(func.lower(User.email) == email))
        assert taken is not None
        return SignUp(taken, created=False, password_hash=password_hash)
    return SignUp(user, created=True, password_hash=password_hash)


def password_attempt(session: Session, settings: Settings, email: str, client: str) -> int:
    """Count a password attempt for `email` from `client` under the login limit, as a failure until
    `release`d (a right password gives it back). Counted before Argon2 runs (`reserve`). Logging
    in and confirming an address by its password share the count: neither is a free oracle.

    Raises:
        RateLimited: too many failed attempts from this address for this e-mail (429).
    """
    return reserve(session, f"login:{client}:{normalise_email(email)}", settings.logins_per_minute)


def authenticate(session: Session, settings: Settings, email: str, password: str, client: str) -> User:
    """The user for these credentials.

    Raises:
        RateLimited: too many failed attempts from this address for this e-mail (429).
        ServiceError: wrong e-mail or password, or an address not confirmed yet (401, one message
            for all three); the failure is counted and committed.
    """
    email = normalise_email(email)
    attempt = password_attempt(session, settings, email, client)
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    # An unknown e-mail is checked against a dummy hash: as slow, so timing does not reveal accounts.
    if not verify_password(password, user.password_hash if user else None):
        raise ServiceError(LOGIN_FAILED, status=401)
    assert user is not None  # verify_password is False without a hash
    if user.email_verified_at is None:  # signs in by its link first (see the module docstring)
        raise ServiceError(LOGIN_FAILED, status=401)
    release(session, attempt)
    return user
