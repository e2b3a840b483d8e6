"""Accounts: sign up, log in (rate-limited), log out; the session is an HttpOnly cookie."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from fst.web.deps import AppSettings, CurrentUser, DbSession, client_address, end_session, start_session
from fst.web.models import User
from fst.web.schemas import Account, Credentials
from fst.web.services import auth
from fst.web.settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"])


def account(user: User, settings: Settings) -> Account:
    return Account(email=user.email, credits=user.credits, billing=settings.billing_enabled)


@router.post("/register", status_code=201)
def api_register(
    credentials: Credentials, request: Request, response: Response, session: DbSession, settings: AppSettings
) -> Account:
    """Create an account (with the free credits) and log it in."""
    user = auth.register(session, settings, credentials.email, credentials.password, client_address(request))
    start_session(request, session, response, user)
    return account(user, settings)


@router.post("/login")
def api_login(
    credentials: Credentials, request: Request, response: Response, session: DbSession, settings: AppSettings
) -> Account:
    """Log in; sets the session cookie. Repeated failures answer 429 with Retry-After."""
    user = auth.authenticate(session, settings, credentials.email, credentials.password, client_address(request))
    start_session(request, session, response, user)
    return account(user, settings)


@router.post("/logout", status_code=204)
def api_logout(request: Request, response: Response, session: DbSession) -> None:
    end_session(request, session, response)


@router.get("/me")
def api_me(user: CurrentUser, settings: AppSettings) -> Account:
    return account(user, settings)
