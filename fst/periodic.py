"""Run a small callable every few seconds on a daemon thread while a block runs (lease heartbeats,
progress ticks)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager


@contextmanager
def every(seconds: float, action: Callable[[], None], name: str = "periodic") -> Iterator[None]:
    """Call `action` every `seconds` (first after `seconds`) until the block ends; joins the thread."""
    stop = threading.Event()

    def loop() -> None:
        while not stop.wait(seconds):
            action()

    thread = threading.Thread(target=loop, name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        stop.set()
        thread.join()
