"""`engine="ray"`: the batch job on Ray Data, on this machine or on the cluster of `RAY_ADDRESS`.

The driver (`fst.stylize.pipeline.run`) loads the styles, plans the jobs and reports exactly as the
local engine does, while `fst.stylize.ray_start` brings Ray up in a thread; only the middle step
runs here:

    jobs (paths) -> decode tasks (GPU actors) -> an actor pool, each actor running the local
                    or the actor's own threads    `BatchRun` (same stylizer, controls, tiling,
                    (CPU actors)                  atomic writes) -> tallies

On GPU actors, decode tasks on the node's CPUs feed the net. A CPU actor's net uses every core of
its node, so it decodes in its own threads as the local engine does: a decode task could only take
cores from it, and cost a process and an object-store copy per image. Pixels cross the object store
only for images the net runs whole; larger ones (they will be tiled) travel as paths.

Each actor runs two batches at once: one on the net while the other finishes its writes, so the
net never waits for a batch's last encode, and a batch is reported only once its files are on
disk. Ray restarts a killed actor and retries its batches; outputs are written atomically and an
actor skips targets this job already wrote, so a retried batch writes each output once.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import numpy as np
import ray
import ray.data
import torch
from PIL import Image

from fst.device import resolve_device
from fst.io.images import DecodedImage, ImageReadError, read_image
from fst.stylize import inputs
from fst.stylize.batch import BatchRun, Decoded, Summary, load_styles, prefetch, worth_compiling
from fst.stylize.engine import StyleNet, make_stylizer
from fst.stylize.options import StylizeOptions
from fst.stylize.stylizer import Stylizer

# Test hook: "N:MARKER" makes an actor SIGKILL itself before its Nth image if MARKER does not exist
# yet: it lets the writes in flight land, creates MARKER, and dies, so a retry finds outputs of its
# batch already written, and the kill happens once per job.
KILL_HOOK = "FST_RAY_KILL_ACTOR_AT"
DECODE_BATCH = 4  # images per decode task: small, so decode streams ahead of the net


def stylize(
    options: StylizeOptions,
    styles: list[tuple[str, StyleNet]],
    todo: list[inputs.Job],
) -> tuple[Summary, set[str]]:
    """Stylize `todo` on Ray actors (Ray is up: `fst.stylize.ray_start`); the summary (written, failed lines) and
    the net modes used."""
    summary, modes = Summary(), set[str]()
    if not todo:
        return summary, modes
    try:
        for batch in _dataset(options, styles, todo).iter_batches(batch_size=1, batch_format="numpy"):
            summary.written += int(batch["written"][0])
            modes.update(mode for mode in str(batch["modes"][0]).split("+") if mode)
            for message in filter(None, str(batch["failed"][0]).split("\n")):
                summary.failed.append(message)
                print(f"failed: {message}", file=sys.stderr)
    finally:
        inputs.remove_stale_parts(todo)  # temp files of killed actors (their batches were redone)
    return summary, modes


def _dataset(options: StylizeOptions, styles: list[tuple[str, StyleNet]], todo: list[inputs.Job]) -> ray.data.Dataset:
    context = ray.data.DataContext.get_current()
    context.enable_progress_bars = options.output.progress
    logging.getLogger("ray.data").setLevel(logging.INFO if options.output.progress else logging.ERROR)
    gpus = int(ray.cluster_resources().get("GPU", 0)) if options.performance.device != "cpu" else 0
    decode_tasks = decode_in_tasks(gpus)
    if gpus:  # one actor per GPU, batches of same-size images as the local engine on CUDA
        actors, resources = gpus, {"num_gpus": 1, "num_cpus": 1}
    else:  # one actor per node, its torch threads on all the node's cores
        nodes = [node for node in ray.nodes() if node["Alive"] and node["Resources"].get("CPU")]
        cores = min(int(node["Resources"]["CPU"]) for node in nodes)
        # It reserves them all when it decodes in its threads, else one is left to the decode tasks.
        actors, resources = len(nodes), {"num_cpus": max(1, cores - 1) if decode_tasks else cores}
    net_batch = options.performance.batch_size or (4 if gpus else 1)
    rows = [{"source": str(job.source), "target": str(job.target), "style": job.style} for job in todo]
    build = {name: _worth_building(options, net, name, todo) for name, net in styles}
    dataset = ray.data.from_items(rows)
    if decode_tasks:  # what runs whole travels decoded, larger images as paths
        whole_limit = min(options.tiling.max_pixels or 16_000_000, 16_000_000)
        decode_args = {"batch_size": DECODE_BATCH, "fn_kwargs": {"whole_limit": whole_limit}, "num_cpus": 1}
        dataset = dataset.map_batches(_decode_batch, **decode_args)
    # The job's settings (FST_CACHE_DIR, FST_CHECKPOINTS, ...) follow it to every node; none: the
    # default runtime environment, whose pre-started workers the actors can take.
    env_vars = {key: value for key, value in os.environ.items() if key.startswith("FST_")}
    return dataset.map_batches(
        StylizeActor,
        batch_size=4 * net_batch,  # small: a killed actor redoes little
        # Ray Data's actor pools default to max_restarts=-1 and max_task_retries=-1 (passing them
        # is deprecated): a dead actor is replaced and its batches sent again; test_ray.py pins it.
        # Two calls at once: one batch on the net while the other finishes its writes.
        compute=ray.data.ActorPoolStrategy(
            size=actors, max_concurrent_calls_per_actor=2, enable_true_multi_threading=True
        ),
        fn_constructor_kwargs={"options": options, "build": build, "started": time.time()},
        runtime_env={"env_vars": env_vars} if env_vars else None,
        **resources,
    )


def decode_in_tasks(gpus: int) -> bool:
    """Decode tasks on the CPUs feed GPU actors; a CPU actor decodes in its own threads, since its
    net uses every core: a task would only take cores from it and add an object-store copy."""
    return gpus > 0


def _worth_building(options: StylizeOptions, net: StyleNet, name: str, todo: list[inputs.Job]) -> bool:
    """The local engine's compile decision for one style, taken once on the whole plan."""
    limit = make_stylizer(net, name, torch.device("cpu"), options.controls, options.tiling, options.performance)
    return worth_compiling([job for job in todo if job.style == name], options, limit.whole_image_limit(True))


def _decode_batch(batch: dict[str, np.ndarray], whole_limit: int) -> dict[str, np.ndarray]:
    """Paths -> raw RGB (and alpha) bytes, or the one-line decode error; big images stay paths."""
    count = len(batch["source"])
    pixels, alpha, sizes, errors = [b""] * count, [b""] * count, [(0, 0)] * count, [""] * count
    for index, source in enumerate(batch["source"]):
        size = inputs.header_size(Path(source))
        if size is not None and size[0] * size[1] > whole_limit:
            continue  # the actor decodes it from the path
        try:
            image = read_image(Path(source), keep_alpha=True)
        except ImageReadError as error:
            errors[index] = str(error)
            continue
        sizes[index] = image.rgb.size
        pixels[index] = image.rgb.convert("RGB").tobytes()
        alpha[index] = image.alpha.tobytes() if image.alpha is not None else b""
    widths, heights = zip(*sizes, strict=True)
    return {
        **batch,
        "pixels": np.array(pixels, dtype=object),
        "alpha": np.array(alpha, dtype=object),
        "width": np.array(widths),
        "height": np.array(heights),
        "error": np.array(errors),
    }


class StylizeActor:
    """One model worker: loads the styles (and their compiled packages) once, then runs the local
    engine's `BatchRun` on each batch, writing each output atomically before reporting it.

    Ray Data calls it from two threads at once: the net runs one batch at a time (`net_lock`),
    while the batch before it waits for its writes.
    """

    def __init__(self, options: StylizeOptions, build: dict[str, bool], started: float) -> None:
        # Ray sets OMP_NUM_THREADS to the actor's CPUs; the net, like the local engine, uses every core.
        self.threads = max(1, len(os.sched_getaffinity(0)))
        torch.set_num_threads(self.threads)
        # Quiet: the driver prints failures and the progress.
        self.options = replace(options, output=replace(options.output, progress=False))
        self.device = resolve_device(options.performance.device)
        self.nets = dict(load_styles(options.style))
        self.build, self.started = build, started
        self.stylizers: dict[str, Stylizer] = {}
        self.modes: set[str] = set()
        self.seen = 0
        self.net_lock = threading.Lock()

    def __call__(self, batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        # OpenMP keeps its thread count per calling thread, and Ray Data calls from its own threads.
        torch.set_num_threads(self.threads)
        rows = [{key: batch[key][index] for key in batch} for index in range(len(batch["source"]))]
        rows = [row for row in rows if not self._done(Path(row["target"]))]
        already = len(batch["source"]) - len(rows)  # written by this job before a retry: count, don't redo
        with BatchRun(self.options, self.device, 0, log=lambda _: None) as run:
            self._stylize(run, rows)
            # Leaving `run` waits for this batch's writes, while the next batch has the net.
        return {
            "written": np.array([run.summary.written + already]),
            "failed": np.array(["\n".join(run.summary.failed)]),
            "modes": np.array(["+".join(sorted(self.modes))]),
        }

    def _stylize(self, run: BatchRun, rows: list[dict]) -> None:
        """Each style's rows through the net, one batch at a time; their writes left in flight."""
        with self.net_lock:
            for name in dict.fromkeys(str(row["style"]) for row in rows):
                style_rows = [row for row in rows if row["style"] == name]
                run.stylize_decoded(self._stylizer(run, name, style_rows), self._decoded(run, style_rows))

    def _done(self, target: Path) -> bool:
        """Written already by this job (a retried batch); with overwrite, older files are redone."""
        if not target.exists():
            return False
        return not self.options.output.overwrite or target.stat().st_mtime >= self.started

    def _stylizer(self, run: BatchRun, name: str, rows: list[dict]) -> Stylizer:
        if name not in self.stylizers:  # the compiled package is loaded once per actor
            jobs = [_job(row) for row in rows]
            self.stylizers[name] = run.stylizer(self.nets[name], name, jobs, worth=lambda: self.build[name])
            self.modes |= run.modes
        return self.stylizers[name]

    def _decoded(self, run: BatchRun, rows: list[dict]) -> Iterator[Decoded]:
        """The rows' images in order, decoded a few ahead of the net in the run's threads."""
        for decoded in prefetch(run.decoders, _decode_row, rows, run.depth):
            self._maybe_die(run)
            yield decoded

    def _maybe_die(self, run: BatchRun) -> None:
        self.seen += 1
        hook = os.environ.get(KILL_HOOK)
        if hook:
            at, marker = hook.split(":", 1)
            if self.seen >= int(at) and not os.path.exists(marker):
                for _, write in run.writes:  # outputs on disk, not yet reported: the retry must skip them
                    write.result()
                Path(marker).touch()
                os.kill(os.getpid(), signal.SIGKILL)


def _decode_row(row: dict) -> Decoded:
    """A row's image: its pixels from a decode task, else decoded here from its path."""
    job = _job(row)
    if row.get("error"):
        return job, None, str(row["error"])
    if not row.get("pixels"):  # a CPU actor's row, or an image too big to ship: decoded here
        try:
            return job, read_image(job.source, keep_alpha=True), None
        except ImageReadError as error:
            return job, None, str(error)
    size = (int(row["width"]), int(row["height"]))
    rgb = Image.frombytes("RGB", size, row["pixels"])
    alpha = Image.frombytes("L", size, row["alpha"]) if row["alpha"] else None
    return job, DecodedImage(rgb, alpha), None


def _job(row: dict) -> inputs.Job:
    return inputs.Job(Path(str(row["source"])), Path(str(row["target"])), str(row["style"]))
