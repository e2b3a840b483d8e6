"""What routers and pages share about HTTP: the connections, a database session per request, the
current user, CSRF, the session cookie, and reading uploads."""

from __future__ import annotations

import functools
import inspect
from collections.abc import AsyncIterator, Callable
from typing import Annotated, Any

import anyio.to_thread
from fastapi import Depends, HTTPException, Request, Response, UploadFile
from fastapi.routing import APIRoute
from sqlalchemy.orm import Session

from fst.web.connections import Connections
from fst.web.models import User
from fst.web.security import (
    CSRF_COOKIE,
    SESSION_COOKIE,
    SESSION_DAYS,
    SIGNUP_COOKIE,
    SIGNUP_COOKIE_S,
    csrf_valid,
    end_login_session,
    new_login_session,
    session_user_id,
    signup_proof,
)
from fst.web.services.account import Proof
from fst.web.services.auth import SignUp
from fst.web.settings import Settings


def connections(request: Request) -> Connections:
    return request.app.state.connections


def settings(request: Request) -> Settings:
    return connections(request).settings


# The dependencies below that do no I/O are `async`: FastAPI runs a sync one on a thread-pool thread,
# and under load every such hop is another wait behind all the other requests' hops.


async def _app_connections(request: Request) -> Connections:
    return connections(request)


async def _app_settings(request: Request) -> Settings:
    return settings(request)


async def db_session(request: Request) -> AsyncIterator[Session]:
    """One session per request; handlers (or the services they call) commit what they change.

    Made without a thread (a session connects at its first query). `ReleasingRoute` closes it when
    the endpoint returns; a session a failed dependency left holding a connection is closed on a
    thread of its own, so the close never waits behind other requests for the shared pool.
    """
    session = connections(request).factory()
    try:
        yield session
    finally:
        if session.in_transaction():
            await anyio.to_thread.run_sync(session.close, limiter=anyio.CapacityLimiter(1))
        else:
            session.close()  # holds no connection: nothing to wait for


class ReleasingRoute(APIRoute):
    """A route whose endpoint gives its database connection back before it returns.

    FastAPI validates a sync endpoint's answer on another thread-pool thread, and only then closes
    the request's session: a read after the handler's last commit (a job's queue position) kept its
    connection while the request waited for a thread. With hundreds of requests queued for the 40
    threads, the waiting ones held every connection while the threads waited for one, and answered
    500 after the pool's time-out. Closing ends the transaction as the dependency's close would
    (uncommitted work is rolled back); loaded objects stay readable.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        super().__init__(path, _closing_sessions(endpoint), **kwargs)


def _closing_sessions(endpoint: Callable[..., Any]) -> Callable[..., Any]:
    """`endpoint`, closing every `Session` argument when it returns or raises (its signature kept)."""

    def close(arguments: dict[str, Any]) -> None:
        for value in arguments.values():
            if isinstance(value, Session):
                value.close()

    if inspect.iscoroutinefunction(endpoint):

        @functools.wraps(endpoint)
        async def closing_async(**arguments: Any) -> Any:
            try:
                return await endpoint(**arguments)
            finally:
                close(arguments)

        return closing_async

    @functools.wraps(endpoint)
    def closing(**arguments: Any) -> Any:
        try:
            return endpoint(**arguments)
        finally:
            close(arguments)

    return closing


DbSession = Annotated[Session, Depends(db_session)]
AppSettings = Annotated[Settings, Depends(_app_settings)]
AppConnections = Annotated[Connections, Depends(_app_connections)]


def optional_user(request: Request, session: DbSession) -> User | None:
    user_id = session_user_id(session, request.cookies.get(SESSION_COOKIE))
    user = session.get(User, user_id) if user_id is not None else None
    # Give the connection back before the endpoint runs on another thread-pool thread: held across
    # that hop, 40 requests held all 40 connections while waiting for a thread, and the 40 threads
    # waited for a connection (a deadlock under load). The user stays loaded (expire_on_commit=False).
    session.commit()
    return user


async def api_user(user: Annotated[User | None, Depends(optional_user)]) -> User:
    """The logged-in user, or 401 (API routes)."""
    if user is None:
        raise HTTPException(status_code=401, detail="log in first (POST /api/auth/login)")
    return user


CurrentUser = Annotated[User, Depends(api_user)]
MaybeUser = Annotated[User | None, Depends(optional_user)]


def check_csrf(request: Request, submitted: str | None) -> None:
    """HTML form posts carry the token rendered into the form; a missing or wrong one is 403."""
    if not csrf_valid(settings(request).secret_key, request.cookies.get(CSRF_COOKIE), submitted):
        raise HTTPException(status_code=403, detail="the form expired or came from another site; reload the page")


def client_address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


def read_upload(upload: UploadFile | None, limit: int) -> bytes | None:
    """At most `limit + 1` bytes, so an oversized upload is recognised without reading all of it."""
    if upload is None:
        return None
    return upload.file.read(limit + 1)


def secure_cookie(request: Request) -> bool:
    """Cookies are Secure over HTTPS (also as seen through a proxy): never sent over plain HTTP."""
    return settings(request).secure_cookies or request.url.scheme == "https"


def remember_signup(request: Request, response: Response, signup: SignUp) -> None:
    """Set the sign-up cookie: its confirmation link, opened in this browser, signs in at once
    (`services.account.Proof`). Set alike for a new and a taken address (the value tells neither)."""
    proof = signup_proof(settings(request).secret_key, signup.user.id, signup.password_hash)
    response.set_cookie(
        SIGNUP_COOKIE, proof, max_age=SIGNUP_COOKIE_S, httponly=True, samesite="lax", secure=secure_cookie(request)
    )


def confirm_proof(request: Request, user: User | None, password: str | None = None) -> Proof:
    """What this request shows for confirming an address: its sign-up cookie, its session, and a
    password typed in (`services.account.verify_email`)."""
    return Proof(
        signup_cookie=request.cookies.get(SIGNUP_COOKIE),
        password=password,
        session_user_id=user.id if user else None,
        client=client_address(request),
    )


def confirmed_session(request: Request, session: Session, response: Response, user: User) -> None:
    """Sign in the account whose address was just confirmed; its sign-up cookie has done its work."""
    start_session(request, session, response, user)
    response.delete_cookie(SIGNUP_COOKIE, path="/", secure=secure_cookie(request), httponly=True, samesite="lax")


def start_session(request: Request, session: Session, response: Response, user: User) -> None:
    """Log `user` in: store a new login session and set its cookie on `response`."""
    token = new_login_session(session, user.id)
    session.commit()
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=SESSION_DAYS * 86400,
        httponly=True,  # not readable by scripts: an injected script cannot steal the session
        samesite="lax",  # not sent with cross-site posts
        secure=secure_cookie(request),
        path="/",
    )


def end_session(request: Request, session: Session, response: Response) -> None:
    """Log out: forget the login session and delete its cookie."""
    end_login_session(session, request.cookies.get(SESSION_COOKIE))
    session.commit()
    response.delete_cookie(SESSION_COOKIE, path="/")
