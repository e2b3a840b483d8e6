"""How many uploads the web process works on at once: the rest wait their turn, unread, and one that
waits too long is answered 503 with a `Retry-After` instead of piling up.

An upload is the costly request (its body spooled, its images decoded); without a bound, a burst of
hundreds queued for the same threads as every status poll, each waiting body held in memory.
"""

from __future__ import annotations

import math
import time

import anyio
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Receive, Scope, Send

MAX_RETRY_AFTER_S = 5


class UploadGate:
    """ASGI middleware: at most `slots` of the `paths` POSTs run at once; each waits at most `wait_s`
    for a slot (before its body is read), else 503 with `Retry-After`."""

    def __init__(self, app: ASGIApp, paths: dict[str, str], slots: int, wait_s: float) -> None:
        self.app, self.paths, self.slots, self.wait_s = app, paths, slots, wait_s
        self.semaphore = anyio.Semaphore(slots)
        self.waiting = 0
        self.mean_s = 0.1  # seconds a slot is held, a running mean: what `Retry-After` is estimated from

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] != "POST" or scope["path"] not in self.paths:
            return await self.app(scope, receive, send)
        admitted = False
        self.waiting += 1
        try:
            with anyio.move_on_after(self.wait_s):
                await self.semaphore.acquire()
                admitted = True
        finally:
            self.waiting -= 1
        if not admitted:
            return await self._busy(scope)(scope, receive, send)
        start = time.monotonic()
        try:
            await self.app(scope, receive, send)
        finally:
            self.semaphore.release()
            self.mean_s += 0.1 * (time.monotonic() - start - self.mean_s)

    def _busy(self, scope: Scope) -> Response:
        """503 with the seconds until the uploads waiting now have likely had their turn, at most
        `MAX_RETRY_AFTER_S`: the others of a burst are refused too, so the estimate runs long, and
        clients kept away longer left the worker idle (77 s of a 146-s run); back in line, a retry
        waits its turn unread."""
        estimate = math.ceil(self.waiting * self.mean_s / self.slots)
        retry_after = max(1, min(MAX_RETRY_AFTER_S, estimate))
        message = f"the service is busy; try again in {retry_after} s"
        headers = {"Retry-After": str(retry_after)}
        if self.paths[scope["path"]] == "api":
            return JSONResponse({"detail": message}, status_code=503, headers=headers)
        from fst.web.routers.pages import render  # the pages import the services, which import this module's callers

        page = render(Request(scope), "error.html", {"status": 503, "message": message}, status_code=503)
        page.headers.update(headers)
        return page
