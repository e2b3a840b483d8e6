"""The tables (SQLAlchemy 2 ORM models). The schema itself is owned by the Alembic migrations in
`migrations/`: change a model, then generate its migration (see `fst.web.db`).

Times are float seconds since the epoch: the same on SQLite and PostgreSQL, and lease arithmetic
in SQL (`lease_until < now`) needs no time-zone handling.
"""

from __future__ import annotations

import time

from sqlalchemy import Boolean, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

JOB_STATES = ("queued", "running", "done", "failed")


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)  # stored lower-cased
    password_hash: Mapped[str] = mapped_column(String(255))
    credits: Mapped[int] = mapped_column(Integer, default=0)
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)
    # None until the address is confirmed by the e-mailed link; the free credits come with it.
    email_verified_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class EmailToken(Base):
    """A single-use link sent by e-mail (verify the address, reset the password): the link holds a
    random token, the table only its SHA-256, so a read of the database cannot use a pending link."""

    __tablename__ = "email_tokens"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[str] = mapped_column(String(10))  # "verify" or "reset"
    expires_at: Mapped[float] = mapped_column(Float)
    # A sign-up for an address not confirmed yet: the password chosen with it, set when this link
    # confirms the address (so an earlier sign-up's password, maybe an attacker's, does not stay).
    password_hash: Mapped[str | None] = mapped_column(String(255), nullable=True)


class LoginSession(Base):
    """A logged-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "login_sessions"

    token_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    expires_at: Mapped[float] = mapped_column(Float)


class Job(Base):
    """One photo stylized with one style; the row is the job's state machine.

    queued -> running (claimed with a fresh `claim` token and a lease) -> done | failed. A worker
    that dies leaves `running` with a lapsing lease; recovery puts it back to `queued`. The credit
    is charged when the row is inserted (same transaction) and refunded only on `failed`.
    """

    __tablename__ = "jobs"
    __table_args__ = (UniqueConstraint("user_id", "idempotency_key"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)  # uuid4 hex: not guessable
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    idempotency_key: Mapped[str | None] = mapped_column(String(64), nullable=True)
    style: Mapped[str] = mapped_column(String(100))  # a shipped style, a painting, "your image" or "photo look"
    photo_path: Mapped[str] = mapped_column(String(200))  # relative to the data dir; names are ours
    style_image_path: Mapped[str | None] = mapped_column(String(200), nullable=True)
    result_path: Mapped[str | None] = mapped_column(String(200), nullable=True)
    strength: Mapped[float] = mapped_column(Float, default=1.0)
    preserve_color: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(10), default="queued", index=True)
    progress: Mapped[float] = mapped_column(Float, default=0.0)
    error: Mapped[str | None] = mapped_column(Text, nullable=True)
    charged: Mapped[int] = mapped_column(Integer, default=0)  # credits taken; given back on failure
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    completions: Mapped[int] = mapped_column(Integer, default=0)  # must end at 1: checked by the load test
    claim: Mapped[str | None] = mapped_column(String(32), nullable=True)
    # A public link to the result, None until its owner shares it (off by default); revoking sets None.
    share_token: Mapped[str | None] = mapped_column(String(64), nullable=True, unique=True)
    worker: Mapped[str | None] = mapped_column(String(300), nullable=True)  # "host:pid" of the claim's holder
    lease_until: Mapped[float | None] = mapped_column(Float, nullable=True)
    enqueued_at: Mapped[float] = mapped_column(Float, default=time.time)
    created_at: Mapped[float] = mapped_column(Float, default=time.time, index=True)
    started_at: Mapped[float | None] = mapped_column(Float, nullable=True)  # the latest claim
    # While running: when the worker expects to finish, from its pace so far (None until it knows).
    eta_at: Mapped[float | None] = mapped_column(Float, nullable=True)
    finished_at: Mapped[float | None] = mapped_column(Float, nullable=True)


class StripeEvent(Base):
    """A processed Stripe webhook event: its id as primary key makes a redelivery a no-op."""

    __tablename__ = "stripe_events"

    id: Mapped[str] = mapped_column(String(255), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(Integer, nullable=True)
    credits: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[float] = mapped_column(Float, default=time.time)


class RateEvent(Base):
    """One counted action (a failed login, an upload) for the sliding-window rate limits."""

    __tablename__ = "rate_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(400), index=True)
    at: Mapped[float] = mapped_column(Float, index=True)
