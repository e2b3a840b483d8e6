"""What every request passes through: the body-size and cross-site guards, the security headers, and
the answer to a refused request (`ServiceError`). Request-wide policy (limits, headers) lives here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler, request_validation_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse, Response
from starlette.exceptions import HTTPException
from starlette.requests import cookie_parser
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from fst.web.admission import UploadGate
from fst.web.models import User
from fst.web.security import SESSION_COOKIE, session_user_id
from fst.web.services.errors import ServiceError
from fst.web.services.rate_limits import RateLimited
from fst.web.settings import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
# Scripts and styles only from our own files (no inline code: an injected <script> does not run);
# forms post to us, and /buy's redirect goes on to Stripe Checkout.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data: blob:",
        "object-src 'none'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
        "form-action 'self' https://checkout.stripe.com",
    ]
)
# FastAPI's /docs and /redoc load Swagger UI and ReDoc from a CDN with inline code: their own policy.
DOCS_POLICY = (
    "default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com; "
    "worker-src blob:; frame-ancestors 'none'"
)
FORM_OVERHEAD = 1_000_000  # bytes a form's other fields may take beside its two images
# Uploads that need a session: without a session cookie they are refused before the body is read.
UPLOAD_PATHS = {"/api/jobs": "api", "/jobs": "form"}


def install(app: FastAPI, settings: Settings) -> None:
    """Add the guards and the `ServiceError` handler to `app`."""
    # Starlette types the handlers loosely (any Exception subclass), hence the ignores.
    app.add_exception_handler(ServiceError, refused)  # type: ignore[arg-type]
    app.add_exception_handler(HTTPException, http_error)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, invalid_request)  # type: ignore[arg-type]
    app.add_exception_handler(Exception, server_error)
    largest_body = 2 * settings.max_upload_bytes + FORM_OVERHEAD  # a photo, a style image and the form

    @app.middleware("http")
    async def guard_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Refuse oversized bodies, and state-changing requests whose Origin is another site (besides
        SameSite cookies and the forms' CSRF tokens); requests without Origin (API clients) pass."""
        if cross_site(request, settings.secure_cookies):
            return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        docs = request.url.path in ("/docs", "/redoc")
        response.headers.setdefault("Content-Security-Policy", DOCS_POLICY if docs else CONTENT_SECURITY_POLICY)
        return response

    # Inside the body limit: an upload without a session is refused at once, not after its wait.
    app.add_middleware(UploadGate, paths=UPLOAD_PATHS, slots=settings.upload_slots, wait_s=settings.upload_wait_s)
    # Outermost (added last), so it counts the bytes before any other layer reads them.
    app.add_middleware(BodyLimit, limit=largest_body)


class _BodyTooLarge(Exception):
    pass


class BodyLimit:
    """Counts request-body bytes as they arrive and answers 413 at `limit`: `Content-Length` alone
    is not enough, a chunked upload has none (40 MB were spooled to disk before the 401). Uploads
    without a session cookie are refused before a byte of their body is read."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app, self.limit = app, limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.limit:
            return await _too_large(scope, receive, send)
        kind = UPLOAD_PATHS.get(scope["path"])
        if scope["method"] == "POST" and kind and not _has_session_cookie(headers.get("cookie", "")):
            if kind == "api":
                answer: Response = JSONResponse({"detail": "log in first (POST /api/auth/login)"}, status_code=401)
            else:
                answer = RedirectResponse("/login", status_code=303)
            return await answer(scope, receive, send)
        received = 0
        cut = False

        async def counted() -> Message:
            nonlocal received, cut
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.limit:
                    cut = True
                    raise _BodyTooLarge  # stops the form parser; FastAPI may turn it into a 400, dropped below
            return message

        async def guarded_send(message: Message) -> None:
            if not cut:  # once cut, the app's own answer (a 400 for a "broken" form) is replaced by the 413
                await send(message)

        try:
            await self.app(scope, counted, guarded_send)
        except Exception:
            if not cut:
                raise
        if cut:
            await _too_large(scope, receive, send)


async def _too_large(scope: Scope, receive: Receive, send: Send) -> None:
    await JSONResponse({"detail": "the upload is too large"}, status_code=413)(scope, receive, send)


def _has_session_cookie(header: str) -> bool:
    return bool(cookie_parser(header).get(SESSION_COOKIE))  # the parser Starlette's `request.cookies` uses


def cross_site(request: Request, behind_https: bool = False) -> bool:
    """A state-changing request from a page of another origin (Stripe's webhook comes from Stripe).

    The origin is scheme and host: `http://site` posting to `https://site` is another origin (a
    network attacker can serve the plain-HTTP page). Behind an HTTPS proxy (`secure_cookies`) the
    app may see plain HTTP, but only `https://` origins are ours.
    """
    origin = request.headers.get("origin")
    if request.method in ("GET", "HEAD", "OPTIONS") or not origin or request.url.path.startswith("/api/stripe/"):
        return False
    parts = urlsplit(origin)
    scheme = "https" if behind_https else request.url.scheme
    return (parts.scheme, parts.netloc) != (scheme, request.headers.get("host", ""))


def wants_html(request: Request) -> bool:
    """A browser asking for a page: it gets an HTML error page; the API (and curl) always get JSON."""
    return not request.url.path.startswith("/api/") and "text/html" in request.headers.get("accept", "")


def error_page(request: Request, status: int, message: str, headers: dict[str, str] | None = None) -> Response:
    from fst.web.routers.pages import render  # the pages import the services, which import this module's callers

    context = {"status": status, "message": message, "user": _page_user(request)}
    page = render(request, "error.html", context, status_code=status)
    page.headers.update(headers or {})
    return page


def _page_user(request: Request) -> User | None:
    """The logged-in user for the error page's header; None when the database cannot say (the error
    may be the database's)."""
    try:
        with request.app.state.connections.factory() as session:
            user_id = session_user_id(session, request.cookies.get(SESSION_COOKIE))
            return session.get(User, user_id) if user_id is not None else None
    except Exception:
        return None


async def refused(request: Request, error: ServiceError) -> Response:
    """A rule refused the request: its reason and status, as FastAPI answers an `HTTPException`."""
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    if wants_html(request):
        return error_page(request, error.status, str(error), headers)
    return JSONResponse({"detail": str(error)}, status_code=error.status, headers=headers)


PAGE_MESSAGES = {
    404: "There is no such page, or it is not yours to see.",
    405: "This address does not take that kind of request.",
}


async def http_error(request: Request, error: HTTPException) -> Response:
    if not wants_html(request):
        return await http_exception_handler(request, error)
    message = PAGE_MESSAGES.get(error.status_code) or str(error.detail)
    return error_page(request, error.status_code, message, dict(error.headers or {}))


async def invalid_request(request: Request, error: RequestValidationError) -> Response:
    if not wants_html(request):
        return await request_validation_exception_handler(request, error)
    return error_page(request, 422, "The form was incomplete or had a wrong value; go back and try again.")


async def server_error(request: Request, _error: Exception) -> Response:
    """Unexpected: the details go to the log (Starlette logs them), never to the user."""
    if not wants_html(request):
        return JSONResponse({"detail": "internal error"}, status_code=500)
    return error_page(request, 500, "Something went wrong on our side. Please try again in a minute.")
