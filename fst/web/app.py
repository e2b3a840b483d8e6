"""The app factory: settings in, a FastAPI app out (with its embedded worker when asked)."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from fst.web.routers import auth, billing, jobs, pages, styles
from fst.web.security import RateLimited
from fst.web.services import Services, open_services
from fst.web.settings import Settings

log = logging.getLogger(__name__)
STATIC = Path(__file__).with_name("static")


def create_app(settings: Settings) -> FastAPI:
    """The web app; with `settings.workers > 0` it also runs that many queue workers in-process."""
    settings = settings.with_secret()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services = open_services(settings)
        app.state.services = services
        worker = None
        if settings.workers > 0:
            from fst.web.worker import WorkerRuntime  # torch is imported only where jobs run

            worker = WorkerRuntime(services.settings, services.factory, services.queue, settings.workers)
            worker.start(embedded=True)
        try:
            yield
        finally:
            if worker:
                worker.stop()
            services.engine.dispose()

    app = FastAPI(
        title="fst web service",
        summary="Neural style transfer: upload a photo, pick a style, download the stylized picture.",
        version="1",
        lifespan=lifespan,
    )

    @app.exception_handler(RateLimited)
    async def rate_limited(_request: Request, error: RateLimited) -> JSONResponse:
        return JSONResponse({"detail": str(error)}, status_code=429, headers={"Retry-After": str(error.retry_after)})

    @app.middleware("http")
    async def guard_requests(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        """Refuse oversized bodies, and state-changing requests whose Origin is another site (besides
        SameSite cookies and the forms' CSRF tokens); requests without Origin (API clients) pass."""
        # A body larger than two images plus the form is refused before it is read and spooled.
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > 2 * settings.max_upload_bytes + 1_000_000:
            return JSONResponse({"detail": "the upload is too large"}, status_code=413)
        origin = request.headers.get("origin")
        if (
            request.method not in ("GET", "HEAD", "OPTIONS")
            and origin
            and not request.url.path.startswith("/api/stripe/")
        ) and urlsplit(origin).netloc != request.headers.get("host", ""):
            return JSONResponse({"detail": "cross-site request refused"}, status_code=403)
        response = await call_next(request)
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("X-Frame-Options", "DENY")
        response.headers.setdefault("Referrer-Policy", "same-origin")
        return response

    @app.get("/api/health", tags=["health"])
    def health(request: Request) -> dict[str, object]:
        """Liveness for load balancers: the database answers; queue depth for monitoring."""
        services: Services = request.app.state.services
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        return {"status": "ok", "queued": services.queue.pending()}

    for router in (auth.router, styles.router, jobs.router, billing.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app
