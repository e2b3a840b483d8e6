"""Accounts: sign up, log in (rate-limited), log out; the session is an HttpOnly cookie. E-mail
verification, password reset and change, account deletion (rules in `services.account`).

E-mails are sent after the answer (a background task): a slow SMTP server neither delays the
answer nor, for a password reset, tells by its timing whether the account exists.
"""

from __future__ import annotations

from fastapi import APIRouter, BackgroundTasks, Request, Response

from fst.web import mail
from fst.web.deps import (
    AppSettings,
    CurrentUser,
    DbSession,
    MaybeUser,
    ReleasingRoute,
    client_address,
    confirm_proof,
    confirmed_session,
    end_session,
    remember_signup,
    start_session,
)
from fst.web.models import User
from fst.web.schemas import Accepted, Account, Credentials, EmailIn, PasswordChange, PasswordIn, PasswordReset, TokenIn
from fst.web.security import SESSION_COOKIE
from fst.web.services import account as accounts
from fst.web.services import auth
from fst.web.settings import Settings

router = APIRouter(prefix="/api/auth", tags=["auth"], route_class=ReleasingRoute)
RESET_SENT = "if an account has this e-mail, a reset link is on its way"
SIGN_UP_SENT = "check your inbox: the link we e-mailed confirms the address and signs you in"


def account(user: User, settings: Settings) -> Account:
    return Account(
        email=user.email,
        credits=user.credits,
        billing=settings.billing_enabled,
        verified=user.email_verified_at is not None,
    )


@router.post("/register", status_code=202)
def api_register(
    credentials: Credentials,
    request: Request,
    response: Response,
    tasks: BackgroundTasks,
    session: DbSession,
    settings: AppSettings,
) -> Accepted:
    """Sign up. The same answer (and no session) whether the address is new or taken: a new account
    is e-mailed the link that confirms it and signs it in (the free credits come with it); the owner
    of a taken address is e-mailed a notice with a password-reset link. Sets the sign-up cookie."""
    signup = auth.register(session, settings, credentials.email, credentials.password, client_address(request))
    message = accounts.sign_up_mail(session, settings, signup)
    if message is not None:
        tasks.add_task(mail.send_logged, settings, message)
    remember_signup(request, response, signup)
    return Accepted(detail=SIGN_UP_SENT)


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


@router.post("/verify")
def api_verify(
    body: TokenIn, request: Request, response: Response, user: MaybeUser, session: DbSession, settings: AppSettings
) -> Account:
    """Confirm the e-mail address with the token from the link, and sign in. The client shows it
    chose the password the link keeps or sets: the sign-up cookie (set by its sign-up), or
    `password` (wrong ones count under the login limit: 401, then 429). Without either: 401, and
    the link stays usable."""
    confirmed = accounts.verify_email(session, settings, body.token, confirm_proof(request, user, body.password))
    confirmed_session(request, session, response, confirmed)
    return account(confirmed, settings)


@router.post("/verify/resend", status_code=202)
def api_resend_verification(
    user: CurrentUser, tasks: BackgroundTasks, session: DbSession, settings: AppSettings
) -> Accepted:
    """E-mail a new confirmation link (409 when confirmed already; rate-limited)."""
    tasks.add_task(mail.send_logged, settings, accounts.resend_verification(session, settings, user))
    return Accepted(detail="a new confirmation link is on its way")


@router.post("/password-reset", status_code=202)
def api_request_reset(
    body: EmailIn, request: Request, tasks: BackgroundTasks, session: DbSession, settings: AppSettings
) -> Accepted:
    """E-mail a reset link. The same answer whether the account exists or not; rate-limited."""
    message = accounts.request_password_reset(session, settings, body.email, client_address(request))
    if message is not None:
        tasks.add_task(mail.send_logged, settings, message)
    return Accepted(detail=RESET_SENT)


@router.post("/password-reset/confirm", status_code=204)
def api_reset(body: PasswordReset, session: DbSession, settings: AppSettings) -> None:
    """Set a new password with the link's token; every session of the account is logged out."""
    accounts.reset_password(session, settings, body.token, body.password)


@router.post("/password", status_code=204)
def api_change_password(
    body: PasswordChange, request: Request, user: CurrentUser, session: DbSession, settings: AppSettings
) -> None:
    """Change the password (the current one is needed); the account's other sessions are logged out."""
    token = request.cookies.get(SESSION_COOKIE, "")
    accounts.change_password(session, settings, user, body.current_password, body.new_password, token)


@router.post("/delete-account", status_code=204)
def api_delete_account(
    body: PasswordIn, request: Request, response: Response, user: CurrentUser, session: DbSession, settings: AppSettings
) -> None:
    """Delete the account, its jobs, share links and files (the password is needed); logs out."""
    accounts.delete_account(session, settings, user, body.password)
    end_session(request, session, response)
