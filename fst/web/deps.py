"""Request dependencies: the services, a database session per request, the current user, CSRF."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from fastapi import Depends, HTTPException, Request
from sqlalchemy.orm import Session

from fst.web.db import User
from fst.web.security import CSRF_COOKIE, SESSION_COOKIE, csrf_valid, session_user_id
from fst.web.services import Services


def services(request: Request) -> Services:
    return request.app.state.services


def db_session(request: Request) -> Iterator[Session]:
    """One session per request; handlers commit what they change."""
    with services(request).factory() as session:
        yield session


DbSession = Annotated[Session, Depends(db_session)]


def optional_user(request: Request, session: DbSession) -> User | None:
    user_id = session_user_id(session, request.cookies.get(SESSION_COOKIE))
    user = session.get(User, user_id) if user_id is not None else None
    # Give the connection back before the endpoint runs on another thread-pool thread: held across
    # that hop, 40 requests held all 40 connections while waiting for a thread, and the 40 threads
    # waited for a connection (a deadlock under load). The user stays loaded (expire_on_commit=False).
    session.commit()
    return user


def api_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The logged-in user, or 401 (API routes)."""
    if user is None:
        raise HTTPException(status_code=401, detail="log in first (POST /api/auth/login)")
    return user


CurrentUser = Annotated[User, Depends(api_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]


def check_csrf(request: Request, submitted: str | None) -> None:
    """HTML form posts carry the token rendered into the form; a missing or wrong one is 403."""
    secret = services(request).settings.secret_key
    if not csrf_valid(secret, request.cookies.get(CSRF_COOKIE), submitted):
        raise HTTPException(status_code=403, detail="the form expired or came from another site; reload the page")
