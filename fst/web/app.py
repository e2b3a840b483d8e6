"""The app factory: settings in, a FastAPI app out (with its embedded worker when asked)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from pathlib import Path

from fastapi import APIRouter, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from sqlalchemy import text

from fst.web import middleware
from fst.web.connections import Connections, connect
from fst.web.routers import auth, billing, jobs, pages, styles
from fst.web.settings import Settings

STATIC = Path(__file__).with_name("static")

health = APIRouter(tags=["health"])


@health.get("/api/health")
def api_health(request: Request) -> dict[str, object]:
    """Liveness for load balancers: the database answers; queue depth for monitoring."""
    connections: Connections = request.app.state.connections
    with connections.engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    return {"status": "ok", "queued": connections.queue.pending()}


def create_app(settings: Settings) -> FastAPI:
    """The web app; with `settings.workers > 0` it also runs that many queue workers in-process."""
    settings = settings.with_secret()
    app = FastAPI(
        title="fst web service",
        summary="Neural style transfer: upload a photo, pick a style, download the stylized picture.",
        version="1",
        lifespan=_lifespan(settings),
    )
    middleware.install(app, settings)
    for router in (health, auth.router, styles.router, jobs.router, billing.router, pages.router):
        app.include_router(router)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")
    return app


def _lifespan(settings: Settings) -> Callable[[FastAPI], AbstractAsyncContextManager[None]]:
    """Connect (and migrate) at start, with the embedded workers if any; disconnect at the end."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        connections = connect(settings)
        app.state.connections = connections
        worker = None
        if settings.workers > 0:
            from fst.web.worker import WorkerRuntime  # torch is imported only where jobs run

            worker = WorkerRuntime(settings, connections.factory, connections.queue, settings.workers)
            worker.start(embedded=True)
        try:
            yield
        finally:
            if worker:
                worker.stop()
            connections.engine.dispose()

    return lifespan
