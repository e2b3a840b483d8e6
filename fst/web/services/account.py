"""What an account can do with its e-mail and password: verify the address, reset a forgotten
password, change it, delete the account.

Links sent by e-mail carry a random token (256 bits); the table keeps its SHA-256. A token is
single-use (consumed by one conditional DELETE, so two concurrent uses cannot both pass), expires,
and only the newest of its kind works. A new account signs in by its confirmation link (not by
its password until then) and gets its free credits with it (issue 26: sign-ups handing out
credits). A sign-up for a confirmed address e-mails its owner a notice instead (`sign_up_mail`).

Pre-account hijack: someone may sign up with another person's address first. A later sign-up for
the still unconfirmed address gets a new link carrying its own password (the earlier link stops
working), and confirming by it sets that password and ends every session: the account is never
confirmed with a password its first sign-up chose unless that link is the one clicked.

Nor does the mailbox owner confirm, and sign in to, an account whose password someone else chose
by opening the link that sign-up sent them (the other way round: the attacker keeps the password
and later sees the owner's photos). A link confirms only with a proof that its opener chose the
password it keeps or sets (`Proof`): the sign-up cookie of that sign-up's browser (one click), or
the password itself, counted under the login limit. Whoever did not sign up chooses their own
password by a reset link instead, which confirms the address and ends every session.
"""

from __future__ import annotations

import secrets
import shutil
import time
from dataclasses import dataclass
from email.message import EmailMessage

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from fst.web import mail
from fst.web.models import EmailToken, Job, LoginSession, User
from fst.web.security import hash_password, signup_proof_valid, token_hash, verify_password
from fst.web.services.auth import HOUR, SignUp, check_password, normalise_email, password_attempt
from fst.web.services.errors import Conflict, ServiceError
from fst.web.services.rate_limits import RateLimited, release, reserve
from fst.web.settings import Settings

VERIFY = "verify"
RESET = "reset"
VERIFY_TTL_S = 7 * 86400.0
RESET_TTL_S = 3600.0  # a reset link is a key to the account: short-lived
BAD_LINK = "this link is invalid, used or expired; ask for a new one"


PASSWORD_NEEDED = "enter the password you chose at sign-up to confirm this address"
WRONG_PASSWORD = "this is not the password this sign-up chose"


class PasswordNeeded(ServiceError):
    """The link was opened without a proof of the sign-up's password: ask for it (`Proof`)."""

    status = 401

    def __init__(self, email: str) -> None:
        super().__init__(PASSWORD_NEEDED)
        self.email = email


@dataclass(frozen=True)
class Proof:
    """What the opener of a confirmation link shows for the password it keeps or sets: the sign-up
    cookie (`security.signup_proof`), the password typed in, or a session of the account (only for
    a link that keeps the current password: one from *send again*)."""

    signup_cookie: str | None = None
    password: str | None = None
    session_user_id: int | None = None
    client: str = "unknown"


@dataclass(frozen=True)
class Link:
    """A consumed token: whose it was, and the password it sets (a sign-up's; None: keep the current)."""

    user_id: int
    password_hash: str | None


def _issue(session: Session, user_id: int, purpose: str, ttl_s: float, password_hash: str | None = None) -> str:
    """A new token for `purpose` (earlier ones of the user for it stop working); committed."""
    session.execute(delete(EmailToken).where(EmailToken.user_id == user_id, EmailToken.purpose == purpose))
    token = secrets.token_urlsafe(32)
    expires_at = time.time() + ttl_s
    session.add(
        EmailToken(
            token_hash=token_hash(token),
            user_id=user_id,
            purpose=purpose,
            expires_at=expires_at,
            password_hash=password_hash,
        )
    )
    session.commit()
    return token


def _peek(session: Session, token: str, purpose: str) -> EmailToken | None:
    row = session.get(EmailToken, token_hash(token)) if token else None
    if row is None or row.purpose != purpose or row.expires_at < time.time():
        return None
    return row


def _consume(session: Session, token: str, purpose: str) -> Link:
    """The token's link, the token deleted (not committed). Raises ServiceError for a bad token."""
    row = _peek(session, token, purpose)
    link = Link(row.user_id, row.password_hash) if row else None
    # Conditional on the row still being there: of two concurrent uses only one deletes it.
    if (
        link is None
        or session.execute(delete(EmailToken).where(EmailToken.token_hash == token_hash(token))).rowcount != 1
    ):
        session.rollback()
        raise ServiceError(BAD_LINK)
    return link


def verification_mail(
    session: Session, settings: Settings, user: User, password_hash: str | None = None
) -> EmailMessage:
    """A new confirmation link for `user`'s address (the token committed), as a message to send;
    with `password_hash`, confirming by it sets that password (a later sign-up's)."""
    token = _issue(session, user.id, VERIFY, VERIFY_TTL_S, password_hash)
    link = f"{settings.resolved_public_url()}/verify?token={token}"
    credits = f" and get your {settings.free_credits} free credits" if settings.billing_enabled else ""
    body = (
        f"Welcome to fst.\n\nConfirm your e-mail address{credits}:\n\n{link}\n\n"
        f"The link works for 7 days, with the password of your newest sign-up: opened in the browser\n"
        f"you signed up in, it signs you in at once; elsewhere it asks for that password.\n"
        f"If you did not sign up, ignore this message: nothing happens.\n"
    )
    return mail.message(settings, user.email, "Confirm your e-mail address", body)


def sign_up_mail(session: Session, settings: Settings, signup: SignUp) -> EmailMessage | None:
    """What a sign-up e-mails: a new account its confirmation link; an unconfirmed address a new
    confirmation link that sets this sign-up's password (see the module docstring); the owner of a
    confirmed address a notice with a password-reset link. None past `resets_per_hour` mails to
    a taken address: nobody's inbox can be flooded, and the sign-up is answered the same either
    way. Tokens committed."""
    if signup.created:
        return verification_mail(session, settings, signup.user)
    user = signup.user
    try:
        reserve(session, f"signup-notice:{user.id}", settings.resets_per_hour, HOUR)
    except RateLimited:
        return None
    if user.email_verified_at is None:
        return verification_mail(session, settings, user, signup.password_hash)
    # A reset link, not a sign-in link: the account's password is its owner's, not this sign-up's.
    token = _issue(session, user.id, RESET, RESET_TTL_S)
    site = settings.resolved_public_url()
    body = (
        f"Someone (hopefully you) tried to sign up for fst with this address, which has an account already.\n\n"
        f"If it was you: log in at {site}/login, or choose a new password here:\n\n{site}/reset?token={token}\n\n"
        f"The link works once, for one hour. If it was not you, ignore this message: nothing changes.\n"
    )
    return mail.message(settings, user.email, "Someone tried to sign up with your address", body)


def resend_verification(session: Session, settings: Settings, user: User) -> EmailMessage:
    """A fresh confirmation link. Raises Conflict if already verified, RateLimited past the hourly limit."""
    if user.email_verified_at is not None:
        raise Conflict("your e-mail address is confirmed already")
    reserve(session, f"verify:{user.id}", settings.resets_per_hour, HOUR)
    return verification_mail(session, settings, user)


def _mark_verified(session: Session, settings: Settings, user_id: int) -> None:
    # Conditional on "not yet": the free credits come once, however often a link is used or raced.
    session.execute(
        update(User)
        .where(User.id == user_id, User.email_verified_at.is_(None))
        .values(email_verified_at=time.time(), credits=User.credits + settings.free_credits)
    )
    # Pending confirmation links (some may carry another sign-up's password) stop working.
    session.execute(delete(EmailToken).where(EmailToken.user_id == user_id, EmailToken.purpose == VERIFY))


def _check_proof(session: Session, settings: Settings, user: User, sets_hash: str | None, proof: Proof) -> None:
    """Raise unless `proof` shows its holder chose the password the link keeps (`sets_hash` None)
    or sets. Nothing is consumed: a refused proof keeps the link usable.

    Raises:
        PasswordNeeded: no proof at all (401: the page asks for the password).
        ServiceError: a wrong password (401), counted under the login limit.
        RateLimited: too many wrong passwords (429).
    """
    password_hash = sets_hash or user.password_hash
    if signup_proof_valid(settings.secret_key, proof.signup_cookie, user.id, password_hash):
        return
    # A session proves the current password, not one a later sign-up's link would set.
    if sets_hash is None and proof.session_user_id == user.id:
        return
    if proof.password is None:
        raise PasswordNeeded(user.email)
    attempt = password_attempt(session, settings, user.email, proof.client)
    if not verify_password(proof.password, password_hash):
        raise ServiceError(WRONG_PASSWORD, status=401)
    release(session, attempt)


def pending_email(session: Session, token: str) -> str:
    """The address a usable confirmation link was sent to (the password form names it).

    Raises:
        ServiceError: a bad, used or expired link (400).
    """
    row = _peek(session, token, VERIFY)
    user = session.get(User, row.user_id) if row else None
    if user is None:
        raise ServiceError(BAD_LINK)
    return user.email


def verify_email(session: Session, settings: Settings, token: str, proof: Proof) -> User:
    """Confirm the address the token was sent to, given a `Proof` (see the module docstring); the
    free credits come with it. A link from a later sign-up sets that sign-up's password, and every
    session and pending link ends. Committed.

    Raises:
        ServiceError: a bad link (400); `_check_proof`'s errors (the link stays usable).
    """
    row = _peek(session, token, VERIFY)
    user = session.get(User, row.user_id) if row else None
    if row is None or user is None:
        raise ServiceError(BAD_LINK)
    _check_proof(session, settings, user, row.password_hash, proof)
    link = _consume(session, token, VERIFY)
    if link.password_hash is not None:
        user.password_hash = link.password_hash
        session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
        session.execute(delete(EmailToken).where(EmailToken.user_id == user.id))
    _mark_verified(session, settings, user.id)
    session.commit()
    session.refresh(user)
    return user


def request_password_reset(session: Session, settings: Settings, email: str, client: str) -> EmailMessage | None:
    """A reset link for the account with `email`, or None when there is none.

    The caller answers the same either way (no account enumeration), and sends the message after
    answering, so the time taken does not tell either. Limited per address and per e-mail (so
    nobody's inbox can be flooded), counted before the lookup so both cases count alike.

    Raises:
        RateLimited: too many requests from this address or for this e-mail in the last hour (429).
    """
    email = normalise_email(email)[:320]
    reserve(session, f"reset:address:{client}", settings.resets_per_hour, HOUR)
    reserve(session, f"reset:email:{email}", settings.resets_per_hour, HOUR)
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if user is None:
        return None
    token = _issue(session, user.id, RESET, RESET_TTL_S)
    link = f"{settings.resolved_public_url()}/reset?token={token}"
    body = (
        f"Someone (hopefully you) asked to reset the password of your fst account.\n\n"
        f"Choose a new password here:\n\n{link}\n\n"
        f"The link works once, for one hour. If you did not ask, ignore this message: nothing changes.\n"
    )
    return mail.message(settings, user.email, "Reset your fst password", body)


def check_reset_token(session: Session, token: str) -> None:
    """Raise ServiceError unless `token` is a usable reset link (the form is shown only for one)."""
    if _peek(session, token, RESET) is None:
        raise ServiceError(BAD_LINK)


def reset_password(session: Session, settings: Settings, token: str, password: str) -> User:
    """Set a new password with a reset link; every session of the account is logged out. Committed.

    The link was e-mailed to the address, so using it confirms the address too.
    """
    row = _peek(session, token, RESET)
    user = session.get(User, row.user_id) if row else None
    if user is None:
        raise ServiceError(BAD_LINK)
    check_password(password, user.email)  # before consuming: a refused password keeps the link usable
    _consume(session, token, RESET)
    _set_password(session, user, password)
    _mark_verified(session, settings, user.id)
    session.commit()
    session.refresh(user)
    return user


def _set_password(session: Session, user: User, password: str, keep_session: str | None = None) -> None:
    """New hash; all login sessions but `keep_session` (a token hash) and pending reset links end."""
    user.password_hash = hash_password(password)
    sessions = delete(LoginSession).where(LoginSession.user_id == user.id)
    if keep_session:
        sessions = sessions.where(LoginSession.token_hash != keep_session)
    session.execute(sessions)
    session.execute(delete(EmailToken).where(EmailToken.user_id == user.id, EmailToken.purpose == RESET))


def _check_current_password(session: Session, settings: Settings, user: User, password: str) -> None:
    """Like a login: failures are rate-limited (a stolen session cookie cannot guess the password)."""
    attempt = reserve(session, f"password:{user.id}", settings.logins_per_minute)
    if not verify_password(password, user.password_hash):
        raise ServiceError("the current password is wrong", status=403)
    release(session, attempt)


def change_password(
    session: Session, settings: Settings, user: User, current: str, new: str, session_token: str
) -> None:
    """Change the password; the account's other sessions are logged out, this one stays. Committed."""
    _check_current_password(session, settings, user, current)
    check_password(new, user.email)
    user = session.merge(user)
    _set_password(session, user, new, keep_session=token_hash(session_token))
    session.commit()


def delete_account(session: Session, settings: Settings, user: User, password: str) -> None:
    """Delete the account with its jobs, share links, sessions and every file it stored. Committed.

    Raises:
        ServiceError: a wrong password (403); Conflict (409) while one of its jobs is running (its
        worker would write a result for a deleted account; delete once it has finished).
    """
    _check_current_password(session, settings, user, password)
    # Not running ones: a claim between this and the check below is caught by the check.
    session.execute(delete(Job).where(Job.user_id == user.id, Job.status != "running"))
    if session.scalar(select(func.count()).select_from(Job).where(Job.user_id == user.id)):
        session.rollback()
        raise Conflict("a job of yours is running; delete your account when it has finished")
    session.execute(delete(LoginSession).where(LoginSession.user_id == user.id))
    session.execute(delete(EmailToken).where(EmailToken.user_id == user.id))
    session.execute(delete(User).where(User.id == user.id))
    session.commit()
    # Every stored file of the account lives under these folders (`uploads.store_image`, the worker).
    for folder in ("uploads", "results"):
        shutil.rmtree(settings.data_dir / folder / str(user.id), ignore_errors=True)
