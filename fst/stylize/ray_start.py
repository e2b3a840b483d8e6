"""Ray for one `--engine ray` job, started in a thread while the driver imports torch, loads the
styles and plans.

Ray's start-up (4-5 s on a 2-core machine) is mostly waiting for its processes, so the driver's
own start-up runs meanwhile. The thread lives until `stop`: Ray starts its processes with
PR_SET_PDEATHSIG, so they die with the thread that started them, not just with the process.
Importing this module imports neither Ray nor torch; the thread does.
"""

from __future__ import annotations

import logging
import signal
import sys
import threading
from concurrent.futures import Future
from types import ModuleType

from fst.stylize.options import StylizeOptions


class _NotMainThread(logging.Filter):
    """Drops Ray's warning that `ray.init` in a thread sets no SIGTERM handler: `engine` sets it."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "SIGTERM handler is not set" not in record.getMessage()


class RayStart:
    """Starts a local Ray, or joins the cluster of `RAY_ADDRESS`, in a thread held until `stop`; a
    Ray the caller started already is used as it is."""

    def __init__(self) -> None:
        self._ready: Future[bool] = Future()  # whether this started Ray
        self._stopped = threading.Event()
        threading.Thread(target=self._hold, name="ray-start", daemon=True).start()

    def _hold(self) -> None:
        try:
            import ray  # the optional extra: only this engine needs it

            started_here = not ray.is_initialized()
            if started_here:
                logging.getLogger("ray._private.worker").addFilter(_NotMainThread())
                # Joins RAY_ADDRESS when it is set, else starts a local instance of this machine's cores.
                ray.init(include_dashboard=False, logging_level=logging.WARNING, log_to_driver=False)
            self._ready.set_result(started_here)
        except BaseException as error:  # an ImportError without the extra: `engine` raises it
            self._ready.set_exception(error)
            return
        self._stopped.wait()

    def engine(self) -> ModuleType:
        """`fst.stylize.ray_engine`, once Ray is up.

        Raises:
            ImportError: Ray is not installed.
        """
        from fst.stylize import ray_engine  # Ray Data (~1 s), imported while ray.init waits for its processes

        started_here = self._ready.result()
        if started_here and threading.current_thread() is threading.main_thread():
            # What ray.init does in the main thread: SIGTERM unwinds, so Ray is stopped and temp files go.
            signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(signum))
        return ray_engine

    def stop(self) -> None:
        """Stops Ray if this started it, then ends the thread."""
        try:
            if self._ready.exception() is None and self._ready.result():
                import ray

                ray.shutdown()
        finally:
            self._stopped.set()


def start_for(options: StylizeOptions | None) -> RayStart | None:
    """Ray starting now for a job with `engine="ray"`; None for any other job."""
    return RayStart() if options is not None and options.performance.engine == "ray" else None
