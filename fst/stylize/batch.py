"""One style's batches on one device: decode in threads -> batch same-size images -> net ->
controls -> encode in threads, each failure one line. The local engine runs it in-process; the Ray
engine (`fst.stylize.ray_engine`) runs it inside each model actor.
"""

from __future__ import annotations

import functools
import sys
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import torch
from tqdm import tqdm

from fst import zoo
from fst.device import intra_op_threads
from fst.io.images import DecodedImage, ImageReadError, read_image
from fst.stylize import arbitrary, inputs
from fst.stylize.engine import StyleNet, compile_net, make_stylizer, to_uint8_tensor, write_uint8
from fst.stylize.loading import load_stylizer
from fst.stylize.options import StyleChoice, StylizeOptions
from fst.stylize.stylizer import Stylizer, stack_images


@dataclass
class Summary:
    written: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


# Loading a style is ~100 copies of small tensors (weights, their layouts): too small to share
# between threads, and on a busy 2-core machine waking a second thread cost 6x the copies (0.45 s
# of 0.5 s to load a style and its package, against 0.05 s on one thread). The net runs on all,
# and a package is never built inside: Inductor writes the thread count into the code it makes.
LOADING_THREADS = 1

Decoded = tuple[inputs.Job, DecodedImage | None, str | None]  # an image, or the one line saying why not


def _decode(job: inputs.Job) -> Decoded:
    try:
        return job, read_image(job.source, keep_alpha=True), None
    except ImageReadError as error:
        return job, None, str(error)


def _batches(
    decoded: Iterator[Decoded],
    batch_size: int,
    on_error: Callable[[str], None],
) -> Iterator[list[tuple[inputs.Job, DecodedImage]]]:
    """Group decoded images of equal size into batches, holding at most a few batches back."""
    pending: OrderedDict[tuple[int, int], list[tuple[inputs.Job, DecodedImage]]] = OrderedDict()
    held = 0
    for job, image, error in decoded:
        if image is None:
            on_error(error or f"{job.source}: cannot decode")
            continue
        group = pending.setdefault(image.rgb.size, [])
        group.append((job, image))
        held += 1
        if len(group) == batch_size:
            held -= len(group)
            yield pending.pop(image.rgb.size)
        elif held >= 4 * batch_size:  # mixed sizes: flush the oldest group rather than hoard
            _, oldest = pending.popitem(last=False)
            held -= len(oldest)
            yield oldest
    yield from pending.values()


def prefetch(executor: ThreadPoolExecutor, function: Callable, items: list, depth: int) -> Iterator:
    """Like `executor.map`, but at most `depth` results ahead: a 100k-file folder is not decoded at once."""
    queue: deque[Future] = deque()
    for item in items:
        queue.append(executor.submit(function, item))
        if len(queue) >= depth:
            yield queue.popleft().result()
    while queue:
        yield queue.popleft().result()


def _log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def _first_line(error: BaseException) -> str:
    return str(error).splitlines()[0][:200] if str(error) else type(error).__name__


def load_styles(choice: StyleChoice) -> list[tuple[str, StyleNet]]:
    """(output name, net) per style: the AdaIN model for style images (one output), else one net
    per checkpoint and style; two files with one style name are told apart by their file names.

    Raises:
        CheckpointError, ImageReadError, ValueError: one line each, naming the file or the spec.
    """
    if choice.style_images:  # any image as a style: the AdaIN model, one output per run
        net, metadata = arbitrary.load(choice)
        return [(metadata["name"], net)]
    plans = zoo.plan_styles(choice.checkpoints, choice.styles)
    with intra_op_threads(LOADING_THREADS):  # not for style images above: encoding them is a VGG forward
        loaded = [load_stylizer(path, choice.output_head, style=mix) for path, mix in plans]
    names = [metadata["name"] for _, metadata in loaded]
    if len(set(names)) < len(names):  # two checkpoints with one style name: use file names
        names = [
            Path(path).stem if mix is None else f"{Path(path).stem}-{name}"
            for (path, mix), name in zip(plans, names, strict=True)
        ]
    return [(name, net) for name, (net, _) in zip(names, loaded, strict=True)]


def worth_compiling(jobs: list[inputs.Job], options: StylizeOptions, whole_image_limit: int) -> bool:
    """Whether these jobs repay building a compiled package (`compile auto`).

    Yes when they hold at least `compile_min_images` whole (untiled) images of `compile_min_mpx`
    megapixels in all, counted from the file headers before anything is decoded: a folder job
    pays the build once per machine, a one-off image or a few small ones (the demo) never wait.
    """
    performance = options.performance
    enough = (performance.compile_min_images, performance.compile_min_mpx)
    content_scale = options.controls.content_scale
    images, megapixels = inputs.whole_image_work(jobs, whole_image_limit, content_scale, enough)
    return images >= enough[0] and megapixels >= enough[1]


class BatchRun:
    """The stylize loop of one job: decoders and encoders in threads, a progress bar, the summary.

    Use as a context manager; `stylize` runs one style's jobs, leaving at most a few encodes in
    flight, and leaving the context waits for them.
    """

    def __init__(
        self, options: StylizeOptions, device: torch.device, total: int, log: Callable[[str], None] = _log
    ) -> None:
        self.options, self.device, self.log = options, device, log
        performance = options.performance
        self.batch_size = performance.batch_size or (4 if device.type == "cuda" else 1)
        self.workers = max(1, performance.workers)
        self.depth = 2 * self.batch_size + performance.workers  # images decoded or encoded ahead
        self.summary = Summary()
        self.modes: set[str] = set()  # "compiled" and/or "eager", for the report
        self.writes: deque[tuple[inputs.Job, Future]] = deque()
        self.decoders = ThreadPoolExecutor(self.workers)
        self.encoders = ThreadPoolExecutor(self.workers)
        self.bar = tqdm(total=total, unit="img", disable=not options.output.progress, file=sys.stderr)

    def __enter__(self) -> BatchRun:
        return self

    def __exit__(self, *exc: object) -> None:
        try:
            while self.writes:
                self._finish_oldest_write()
        finally:
            self.decoders.shutdown()
            self.encoders.shutdown()
            self.bar.close()

    def stylizer(
        self, net: StyleNet, name: str, jobs: list[inputs.Job], worth: Callable[[], bool] | None = None
    ) -> Stylizer:
        """The style's stylizer, compiled when the policy says so for these jobs (or `worth()`, when
        the caller sees only part of the job: a Ray actor)."""
        options = self.options
        with intra_op_threads(LOADING_THREADS):  # the net's weights copied to its memory layout
            stylizer = make_stylizer(net, name, self.device, options.controls, options.tiling, options.performance)
        if jobs:  # nothing to do: not even a cached package is loaded
            # What runs whole if compiled is what the package would serve (the AdaIN model caps lower).
            limit = stylizer.whole_image_limit(compiled=True)
            worth = worth or functools.partial(worth_compiling, jobs, options, limit)  # headers read if needed
            stylizer.compiled = compile_net(net, options.performance, self.device, worth)
        self.modes.add("compiled" if stylizer.compiled else "eager")
        return stylizer

    def stylize(self, stylizer: Stylizer, jobs: list[inputs.Job]) -> None:
        """Decode, stylize in batches of equal size and hand each result to an encoder."""
        self.stylize_decoded(stylizer, prefetch(self.decoders, _decode, jobs, self.depth))

    def stylize_decoded(self, stylizer: Stylizer, decoded: Iterator[Decoded]) -> None:
        """Stylize already decoded images (or decode failures) in batches of equal size, then encode."""
        for batch in _batches(decoded, self.batch_size, self._decode_failed):
            content = stack_images([to_uint8_tensor(image.rgb) for _, image in batch])
            try:
                stylized = stylizer(content)
                del content  # a 6000x4000 image: do not hold it while encoding
            except Exception as error:  # one bad batch must not end a 10,000-image job
                for job, _ in batch:
                    self._fail(f"{job.source}: stylizing failed ({_first_line(error)})")
                self.bar.update(len(batch))
                continue
            for (job, image), result in zip(batch, stylized, strict=True):
                write = self.encoders.submit(write_uint8, result, job.target, self.options.output, image.alpha)
                self.writes.append((job, write))
            while len(self.writes) > self.depth:  # bound the stylized tensors waiting for encoding
                self._finish_oldest_write()
            self.bar.update(len(batch))

    def _finish_oldest_write(self) -> None:
        job, write = self.writes.popleft()
        try:
            write.result()
            self.summary.written += 1
        except Exception as error:
            self._fail(f"{job.target}: cannot write ({_first_line(error)})")

    def _decode_failed(self, message: str) -> None:
        self._fail(message)
        self.bar.update(1)

    def _fail(self, message: str) -> None:
        self.summary.failed.append(message)
        self.log(f"failed: {message}")
