"""What every request passes through: the body-size and cross-site guards, the security headers, and
the answer to a refused request (`ServiceError`). Request-wide policy (limits, headers) lives here."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response

from fst.web.services.errors import ServiceError
from fst.web.services.rate_limits import RateLimited
from fst.web.settings import Settings

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
FORM_OVERHEAD = 1_000_000  # bytes a form's other fields may take beside its two images


def install(app: FastAPI, settings: Settings) -> None:
    """Add the guards and the `ServiceError` handler to `app`."""
    app.add_exception_handler(ServiceError, refused)  # type: ignore[arg-type]  # Starlette types it loosely
    largest_body = 2 * settings.max_upload_bytes + FORM_OVERHEAD  # a photo, a style image and the form

    @app.middleware("http")
    async def guard_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Refuse oversized bodies, and state-changing requests whose Origin is another site (besides
        SameSite cookies and the forms' CSRF tokens); requests without Origin (API clients) pass."""
        # Refused before the body is read and spooled.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > largest_body:
            return JSONResponse({"detail": "the upload is too large"}, status_code=413)
        if cross_site(request):
            return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        response = await call_next(request)
        for name, value in SECURITY_HEADERS.items():
            response.headers.setdefault(name, value)
        return response


def cross_site(request: Request) -> bool:
    """A state-changing request from a page of another site (Stripe's webhook comes from Stripe)."""
    origin = request.headers.get("origin")
    if request.method in ("GET", "HEAD", "OPTIONS") or not origin or request.url.path.startswith("/api/stripe/"):
        return False
    return urlsplit(origin).netloc != request.headers.get("host", "")


async def refused(_request: Request, error: ServiceError) -> JSONResponse:
    """A rule refused the request: its reason and status, as FastAPI answers an `HTTPException`."""
    headers = {"Retry-After": str(error.retry_after)} if isinstance(error, RateLimited) else None
    return JSONResponse({"detail": str(error)}, status_code=error.status, headers=headers)
