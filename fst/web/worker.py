"""The queue worker: runs jobs through `fst.stylize.engine.StyleEngine`, which loads each style's
net once (compiled when possible), decodes, stylizes and writes the result.

One `StyleWorker` serves every consumer thread of its process, so a net is loaded once per
process and kept between jobs. A heartbeat thread extends the job's lease while it runs, so only a
dead worker's jobs are retried.
"""

from __future__ import annotations

import logging
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import torch
from PIL import Image
from sqlalchemy.orm import Session, sessionmaker

from fst import resources
from fst.io.images import ImageReadError
from fst.periodic import every
from fst.photo.files import photo_look_file
from fst.stylize.engine import ImageStyle, StyleEngine, TrainedStyle
from fst.stylize.options import Controls, Performance
from fst.web import styles
from fst.web.queue import JobQueue, set_handler
from fst.web.services import job_states
from fst.web.settings import Settings

log = logging.getLogger(__name__)

PREVIEW_PHOTO = resources.demo_dir() / "chelsea.jpg"
PREVIEW_SIZE = 192
PROGRESS_WRITE_S = 0.25  # the pages poll every 0.7 s: more frequent writes would only load the database
ETA_MIN_PROGRESS = 0.05  # before this the pace is mostly start-up (decoding, loading): no estimate yet


def estimated_finish(started: float, now: float, fraction: float) -> float | None:
    """When a job `fraction` done after `now - started` seconds should end, at its pace so far."""
    if fraction < ETA_MIN_PROGRESS:
        return None
    return now + (now - started) * (1.0 - fraction) / fraction


class JobProgress:
    """The engine's progress to the job's row, with the expected finish time, at most every
    `PROGRESS_WRITE_S` (the engine reports every stage or tile). A job shorter than that writes
    nothing: `job_states.finish` writes its end, so small jobs cost the database no more than before."""

    def __init__(self, factory: sessionmaker[Session], held: job_states.Claim, lease_s: float) -> None:
        self.factory, self.held, self.lease_s = factory, held, lease_s
        self.started = time.time()
        self.written = self.started

    def __call__(self, fraction: float) -> None:
        now = time.time()
        if now - self.written < PROGRESS_WRITE_S or fraction >= 1.0:
            return
        self.written = now
        eta_at = estimated_finish(self.started, now, fraction)
        job_states.heartbeat(self.factory, self.held, self.lease_s, fraction, eta_at)


class StyleWorker:
    """Runs jobs by id through one `fst.stylize.engine.StyleEngine`, shared by every consumer thread."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session]) -> None:
        self.settings = settings
        self.factory = factory
        if settings.torch_threads > 0:
            # On a CPU shared with other jobs, one thread measured 10x faster than two on 128 px
            # photos (threads of one op wait for each other while the neighbours hold the cores).
            torch.set_num_threads(settings.torch_threads)
        self.engine = StyleEngine(settings.device, Performance(compile=settings.compile))
        self.device = self.engine.device

    def stylize(
        self,
        photo: Path,
        style: styles.Style | Path,
        strength: float,
        preserve_color: bool,
        target: Path,
        on_progress: Callable[[float], None] = lambda _: None,
    ) -> None:
        """Stylize `photo` with a shipped style or a style image (the arbitrary-style model) into
        `target`, atomically (its format from its extension)."""
        source: TrainedStyle | ImageStyle
        if isinstance(style, Path):
            model = styles.arbitrary_style_checkpoint(self.settings.checkpoints_dir)
            if model is None:
                raise _JobError("the arbitrary-style model is no longer installed")
            source = ImageStyle(style, model)
        else:
            source = TrainedStyle(style.name, style.checkpoint)
        controls = Controls(strength=strength, preserve_color=preserve_color)
        self.engine.stylize_file(photo, target, source, controls, on_progress)

    def run(self, job_id: str) -> None:
        """The queue task: claim the job, stylize, finish; a bad input fails the job and refunds it."""
        held = job_states.claim(self.factory, job_id, self.settings.job_lease_s)
        if held is None:
            return  # done, deleted, or running elsewhere: a duplicate message
        data_dir = self.settings.data_dir
        result = f"results/{held.user_id}/{held.job_id}{Path(held.photo_path).suffix}"
        with self._heartbeat(held):
            try:
                if self.settings.job_stall_s:
                    time.sleep(self.settings.job_stall_s)  # crash tests kill the worker here
                progress = JobProgress(self.factory, held, self.settings.job_lease_s)
                if held.style == styles.PHOTO_LOOK and held.style_image_path:
                    # A reference photo's look (fst.photo): no net to load; strength does not apply.
                    reference = data_dir / held.style_image_path
                    photo_look_file(data_dir / held.photo_path, reference, data_dir / result, on_progress=progress)
                else:
                    style: styles.Style | Path | None = (
                        data_dir / held.style_image_path
                        if held.style_image_path
                        else styles.find_style(self.settings.checkpoints_dir, held.style)
                    )
                    if style is None:
                        raise _JobError(f"the style {held.style!r} is no longer available")
                    self.stylize(
                        data_dir / held.photo_path,
                        style,
                        held.strength,
                        held.preserve_color,
                        data_dir / result,
                        progress,
                    )
            except _JobError as error:
                job_states.fail(self.factory, held, str(error))
                return
            except ImageReadError as error:  # its message starts with our file path: the owner sees the reason
                job_states.fail(self.factory, held, f"the photo cannot be read ({str(error).split(': ', 1)[-1]})")
                return
            except Exception as error:  # the net itself failed: say so, refund, keep the worker alive
                log.exception("job %s failed", job_id)
                job_states.fail(self.factory, held, f"stylizing failed ({type(error).__name__})")
                return
        job_states.finish(self.factory, held, result)  # False: the lease lapsed and another worker finishes it

    @contextmanager
    def _heartbeat(self, held: job_states.Claim) -> Iterator[None]:
        """Extend the lease every quarter lease while the job runs."""
        lease = self.settings.job_lease_s
        with every(
            lease / 4, lambda: job_states.heartbeat(self.factory, held, lease), name=f"heartbeat-{held.job_id[:8]}"
        ):
            yield

    def write_previews(self) -> None:
        """A small stylized photo per shipped style, for the style picker (once per data dir)."""
        folder = self.settings.data_dir / "previews"
        for style in styles.shipped_styles(self.settings.checkpoints_dir):
            target = folder / f"{style.name}.jpg"
            if target.exists() or not PREVIEW_PHOTO.is_file():
                continue
            # A private temp dir: workers on other machines may write the same preview at once.
            with tempfile.TemporaryDirectory() as scratch, Image.open(PREVIEW_PHOTO) as photo:
                small = Path(scratch) / "source.jpg"
                photo.convert("RGB").resize((PREVIEW_SIZE, PREVIEW_SIZE * photo.height // photo.width)).save(small)
                self.stylize(small, style, 1.0, False, target)  # written atomically


class _JobError(Exception):
    """A job that cannot run, with the reason shown to its owner."""


class Recovery:
    """A background thread: re-enqueues jobs of dead workers and lost messages, every few seconds."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], queue: JobQueue) -> None:
        self.settings, self.factory, self.queue = settings, factory, queue
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="job-recovery", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()

    def _loop(self) -> None:
        interval = max(0.5, min(10.0, self.settings.job_lease_s / 4))
        while True:
            try:
                empty = self.queue.pending() == 0
                again = job_states.recover(self.factory, self.queue.enqueue, self.settings.job_lease_s, empty)
                if again:
                    log.warning("re-enqueued %d job(s)", len(again))
            except Exception:  # the database may be restarting: try again next round
                log.exception("job recovery failed")
            if self._stop.wait(interval):
                return


class WorkerRuntime:
    """Queue consumers, the style worker and job recovery: embedded in `serve.py`, or on its own
    (`serve.py worker`, on the GPU machines of a larger deployment)."""

    def __init__(self, settings: Settings, factory: sessionmaker[Session], queue: JobQueue, workers: int) -> None:
        self.style_worker = StyleWorker(settings, factory)
        self.queue = queue
        self.workers = workers
        self.recovery = Recovery(settings, factory, queue)
        self.consumer = None

    def _prepare(self) -> None:
        set_handler(self.style_worker.run)
        try:
            self.style_worker.write_previews()
        except Exception:  # previews are decoration: a failure must not stop the service
            log.exception("cannot write the style previews")
        again = job_states.recover_dead_workers(self.style_worker.factory, self.queue.enqueue)
        if again:
            log.warning("re-enqueued %d job(s) of a stopped worker on this host", len(again))
        self.recovery.start()

    def start(self, embedded: bool) -> None:
        """Start the consumer threads and return (inside a web server)."""
        self._prepare()
        self.consumer = self.queue.consumer(self.workers, embedded=embedded)
        self.consumer.start()

    def run(self) -> None:
        """Run until SIGINT/SIGTERM (a worker-only process); Huey's consumer handles the signals."""
        self._prepare()
        self.consumer = self.queue.consumer(self.workers, embedded=False)
        try:
            self.consumer.run()
        finally:
            self.recovery.stop()

    def stop(self) -> None:
        if self.consumer is not None:
            self.consumer.stop(graceful=True)
        self.recovery.stop()
        set_handler(None)
