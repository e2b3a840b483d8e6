"""Accounts: sign up, log in (rate-limited), log out; the session is an HttpOnly cookie."""

from __future__ import annotations

import re

from fastapi import APIRouter, HTTPException, Request, Response
from pydantic import BaseModel
from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from fst.web.db import User
from fst.web.deps import CurrentUser, DbSession, services
from fst.web.security import (
    SESSION_COOKIE,
    SESSION_DAYS,
    check_rate,
    end_login_session,
    hash_password,
    new_login_session,
    record_event,
    verify_password,
)
from fst.web.settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])

EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")
MIN_PASSWORD = 8


class Credentials(BaseModel):
    email: str
    password: str


class Account(BaseModel):
    email: str
    credits: int
    billing: bool  # False: free mode, jobs cost nothing


class AuthError(Exception):
    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


def account(user: User, settings: Settings) -> Account:
    return Account(email=user.email, credits=user.credits, billing=settings.billing_enabled)


def register(session: Session, settings: Settings, email: str, password: str) -> User:
    """Create an account with the free credits; raises `AuthError` for a bad or taken e-mail."""
    email = email.strip().lower()
    if len(email) > 320 or not EMAIL.fullmatch(email):
        raise AuthError("enter a valid e-mail address")
    if not MIN_PASSWORD <= len(password) <= 1024:
        raise AuthError(f"the password needs at least {MIN_PASSWORD} characters")
    user = User(email=email, password_hash=hash_password(password), credits=settings.free_credits)
    session.add(user)
    try:
        session.flush()
    except IntegrityError:
        session.rollback()
        raise AuthError("an account with this e-mail exists; log in instead", status=409) from None
    return user


def authenticate(session: Session, settings: Settings, email: str, password: str, client: str) -> User:
    """The user for these credentials. Failed attempts per address and e-mail are limited (429)."""
    email = email.strip().lower()
    key = f"login:{client}:{email}"
    check_rate(session, key, settings.logins_per_minute)
    user = session.scalar(select(User).where(func.lower(User.email) == email))
    if not verify_password(password, user.password_hash if user else None):
        record_event(session, key)
        session.commit()
        raise AuthError("wrong e-mail or password", status=401)
    return user


def set_session_cookie(request: Request, response: Response, token: str, settings: Settings) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,  # not readable by scripts: an injected script cannot steal the session
        samesite="lax",  # not sent with cross-site posts
        secure=settings.secure_cookies or request.url.scheme == "https",  # the scheme seen through a proxy too
        path="/",
    )


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def start_session(request: Request, session: Session, response: Response, user: User, settings: Settings) -> None:
    token = new_login_session(session, user.id)
    session.commit()
    set_session_cookie(request, response, token, settings)


@router.post("/register", status_code=201)
def api_register(credentials: Credentials, request: Request, response: Response, session: DbSession) -> Account:
    """Create an account (with the free credits) and log it in."""
    settings = services(request).settings
    try:
        user = register(session, settings, credentials.email, credentials.password)
    except AuthError as error:
        raise HTTPException(status_code=error.status, detail=str(error)) from None
    start_session(request, session, response, user, settings)
    return account(user, settings)


@router.post("/login")
def api_login(credentials: Credentials, request: Request, response: Response, session: DbSession) -> Account:
    """Log in; sets the session cookie. Repeated failures answer 429 with Retry-After."""
    settings = services(request).settings
    try:
        user = authenticate(session, settings, credentials.email, credentials.password, client_address(request))
    except AuthError as error:
        raise HTTPException(status_code=error.status, detail=str(error)) from None
    start_session(request, session, response, user, settings)
    return account(user, settings)


@router.post("/logout", status_code=204)
def api_logout(request: Request, response: Response, session: DbSession) -> None:
    end_login_session(session, request.cookies.get(SESSION_COOKIE))
    session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")


@router.get("/me")
def api_me(user: CurrentUser, request: Request) -> Account:
    return account(user, services(request).settings)
