"""`serve.py admin`: list the accounts, grant credits."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from fst.web.models import Job, User
from fst.web.services.auth import normalise_email
from fst.web.services.errors import NotFound, ServiceError


@dataclass(frozen=True)
class UserRow:
    id: int
    email: str
    credits: int
    jobs: int


def list_users(session: Session) -> list[UserRow]:
    """Every account with its credits and number of jobs, by id."""
    jobs = dict(session.execute(select(Job.user_id, func.count(Job.id)).group_by(Job.user_id)).tuples().all())
    return [
        UserRow(user.id, user.email, user.credits, jobs.get(user.id, 0))
        for user in session.scalars(select(User).order_by(User.id))
    ]


def grant_credits(session: Session, email: str, credits: int) -> User:
    """Add `credits` (negative: take them back) to the account of `email` and commit.

    Raises:
        NotFound: no account has this e-mail.
        ServiceError: taking back more credits than the account has (credits never go negative).
    """
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise NotFound(f"no user {email!r}")
    # One conditional UPDATE: a job charged meanwhile cannot push the balance below zero either.
    result = session.execute(
        update(User).where(User.id == user.id, User.credits + credits >= 0).values(credits=User.credits + credits)
    )
    if result.rowcount != 1:
        session.rollback()
        raise ServiceError(f"{user.email} has {user.credits} credits; cannot take {-credits}")
    session.commit()
    session.refresh(user)
    return user
