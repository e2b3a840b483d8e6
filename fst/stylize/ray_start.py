"""Ray for one `--engine ray` job, started in a thread while the driver loads the styles and plans.

Ray's start-up (4-5 s on a 2-core machine) is mostly waiting for its processes, so the driver's
own start-up runs meanwhile. The thread lives until `stop`: Ray starts its processes with
PR_SET_PDEATHSIG, so they die with the thread that started them, not just with the process.
Importing this module does not import Ray; the thread does.
"""

from __future__ import annotations

import signal
import sys
import threading
from concurrent.futures import Future
from types import ModuleType


class RayStart:
    """Imports `fst.stylize.ray_engine` and starts (or joins) Ray in a thread held until `stop`."""

    def __init__(self) -> None:
        self._ready: Future[tuple[ModuleType, bool]] = Future()
        self._stopped = threading.Event()
        threading.Thread(target=self._hold, name="ray-start", daemon=True).start()

    def _hold(self) -> None:
        try:
            from fst.stylize import ray_engine  # the optional extra: only this engine needs it

            self._ready.set_result((ray_engine, ray_engine.start()))
        except BaseException as error:  # an ImportError without the extra: `engine` raises it
            self._ready.set_exception(error)
            return
        self._stopped.wait()

    def engine(self) -> ModuleType:
        """The Ray engine module once Ray is up.

        Raises:
            ImportError: Ray is not installed.
        """
        ray_engine, started_here = self._ready.result()
        if started_here and threading.current_thread() is threading.main_thread():
            # What ray.init does in the main thread: SIGTERM unwinds, so Ray is stopped and temp files go.
            signal.signal(signal.SIGTERM, lambda signum, _: sys.exit(signum))
        return ray_engine

    def stop(self) -> None:
        """Stops Ray if this started it (a Ray found running is left so), then ends the thread."""
        try:
            if self._ready.exception() is None:
                ray_engine, started_here = self._ready.result()
                if started_here:
                    ray_engine.ray.shutdown()
        finally:
            self._stopped.set()
