"""The batch job: decode in threads -> batch same-size images -> net -> controls -> encode in threads.

Safety rules: every output is written atomically, an existing output is skipped (a rerun resumes),
a bad file costs one line on stderr and the job goes on, and the exit status says whether any
file failed. Images over `max_pixels` (or that run out of memory) are stylized in tiles.
"""

from __future__ import annotations

import sys
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from fst import zoo
from fst.checkpoint import CheckpointError
from fst.device import resolve_device, resolve_precision
from fst.io.images import (
    DecodedImage,
    ImageReadError,
    read_image,
    save_image_atomic,
)
from fst.stylize import arbitrary, compiled, inputs
from fst.stylize.loading import load_stylizer
from fst.stylize.options import StylizeOptions
from fst.stylize.stylizer import Stylizer, stack_images

__all__ = ["StylizeOptions", "list_styles", "resolve_precision", "run"]


@dataclass
class Summary:
    written: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


def _decode(job: inputs.Job) -> tuple[inputs.Job, DecodedImage | None, str | None]:
    try:
        return job, read_image(job.source, keep_alpha=True), None
    except ImageReadError as error:
        return job, None, str(error)


def _to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> (3, H, W) uint8 tensor (a view of one array copy)."""
    return torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)


def _encode(job: inputs.Job, stylized: torch.Tensor, alpha: Image.Image | None, options: StylizeOptions) -> None:
    """(3, H, W) uint8 -> file, atomically."""
    image = Image.fromarray(np.ascontiguousarray(stylized.permute(1, 2, 0).numpy()), mode="RGB")
    save_image_atomic(image, job.target, options.quality, alpha, options.png_compression)


def _batches(
    decoded: Iterator[tuple[inputs.Job, DecodedImage | None, str | None]],
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


def _prefetch(executor: ThreadPoolExecutor, function: Callable, items: list, depth: int) -> Iterator:
    """Like `executor.map`, but at most `depth` results ahead: a 100k-file folder is not decoded at once."""
    queue: deque[Future] = deque()
    for item in items:
        queue.append(executor.submit(function, item))
        if len(queue) >= depth:
            yield queue.popleft().result()
    while queue:
        yield queue.popleft().result()


def _compiled(
    net: compiled.CompilableNet, jobs: list[inputs.Job], options: StylizeOptions, device: torch.device
) -> compiled.CompiledNet | None:
    """The net's compiled package, used whenever it is cached.

    Built when `--compile on`, or on `auto` when the job holds at least `compile_min_images` whole
    (untiled) images of `compile_min_mpx` megapixels in all, counted from the file headers before
    anything is decoded: a folder job pays the build once per machine, a one-off image or a few
    small ones (the demo) never wait for it.
    """
    if options.compile == "off" or not jobs:
        return None
    precision = resolve_precision(options.precision, device)
    build = options.compile == "on"
    if not build and not compiled.is_cached(net, precision, device):
        enough = (options.compile_min_images, options.compile_min_mpx)
        images, megapixels = inputs.whole_image_work(jobs, options.max_pixels, options.content_scale, enough)
        build = images >= enough[0] and megapixels >= enough[1]
    return compiled.load(net, precision, device, build_if_missing=build)


def _log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def run(options: StylizeOptions) -> int:
    """Stylize every input with every checkpoint; returns the exit status (1 if any file failed)."""
    rank, world_size = inputs.rank_and_world_size()
    device = resolve_device(options.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", rank % torch.cuda.device_count())
    try:
        if options.style_images:  # any image as a style: the AdaIN model, one output per run
            plans, loaded = [], [arbitrary.load(options)]
        else:
            plans = zoo.plan_styles(options.checkpoints, options.styles)
            loaded = [load_stylizer(path, options.output_head, style=mix) for path, mix in plans]
    except (CheckpointError, ValueError, ImageReadError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = [metadata["name"] for _, metadata in loaded]
    if len(set(names)) < len(names):  # two checkpoints with one style name: use file names
        names = [
            Path(path).stem if mix is None else f"{Path(path).stem}-{name}"
            for (path, mix), name in zip(plans, names, strict=True)
        ]
    try:
        jobs = inputs.plan_jobs(options.inputs, Path(options.out_dir), names, options.format)
    except FileNotFoundError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    jobs = inputs.shard(jobs, rank, world_size)
    batch_size = options.batch_size if options.batch_size > 0 else (4 if device.type == "cuda" else 1)
    inputs.remove_stale_parts(jobs)  # what a killed run was writing; its target is redone below
    summary = Summary()
    todo = [job for job in jobs if options.overwrite or not job.target.exists()]
    summary.skipped = len(jobs) - len(todo)

    def fail(message: str) -> None:
        summary.failed.append(message)
        _log(f"failed: {message}")

    def finish(write: tuple[inputs.Job, Future]) -> None:
        job, future = write
        try:
            future.result()
            summary.written += 1
        except Exception as error:
            fail(f"{job.target}: cannot write ({str(error).splitlines()[0][:200]})")

    start = time.perf_counter()
    with (
        ThreadPoolExecutor(max(1, options.workers)) as decoders,
        ThreadPoolExecutor(max(1, options.workers)) as encoders,
        tqdm(total=len(todo), unit="img", disable=not options.progress, file=sys.stderr) as bar,
    ):
        writes: deque[tuple[inputs.Job, Future]] = deque()
        depth = 2 * batch_size + options.workers

        def decode_failed(message: str) -> None:
            fail(message)
            bar.update(1)

        modes = set()
        for (net, _), name in zip(loaded, names, strict=True):
            style_jobs = [job for job in todo if job.style == name]
            kind = arbitrary.ArbitraryStylizer if isinstance(net, arbitrary.StyledAdaIN) else Stylizer
            stylizer = kind(net, name, options, device)
            # What runs whole if compiled is what the package would serve (the AdaIN model caps lower).
            whole = replace(options, max_pixels=stylizer.whole_image_limit(compiled=True))
            stylizer.compiled = _compiled(net, style_jobs, whole, device)
            modes.add("compiled" if stylizer.compiled else "eager")
            decoded = _prefetch(decoders, _decode, style_jobs, depth)
            for batch in _batches(decoded, batch_size, decode_failed):
                content = stack_images([_to_uint8_tensor(image.rgb) for _, image in batch])
                try:
                    stylized = stylizer(content)
                    del content  # a 6000x4000 image: do not hold it while encoding
                except Exception as error:  # one bad batch must not end a 10,000-image job
                    for job, _ in batch:
                        fail(f"{job.source}: stylizing failed ({str(error).splitlines()[0][:200]})")
                    bar.update(len(batch))
                    continue
                for (job, image), result in zip(batch, stylized, strict=True):
                    writes.append((job, encoders.submit(_encode, job, result, image.alpha, options)))
                while len(writes) > depth:  # bound the stylized tensors waiting for encoding
                    finish(writes.popleft())
                bar.update(len(batch))
        while writes:
            finish(writes.popleft())
    elapsed = time.perf_counter() - start
    shard_note = f" (worker {rank + 1}/{world_size})" if world_size > 1 else ""
    rate = summary.written / elapsed if elapsed > 0 else 0.0
    print(
        f"stylized {summary.written}, skipped {summary.skipped} existing, failed {len(summary.failed)}"
        f"{shard_note} in {elapsed:.1f} s ({rate:.2f} img/s, {'+'.join(sorted(modes)) or 'no'} net); "
        f"outputs in {options.out_dir}",
        file=sys.stderr,
    )
    return 1 if summary.failed else 0


def list_styles() -> int:
    """Print every shipped style with its file (`stylize.py --list-styles`)."""
    styles = zoo.shipped_styles()
    if not styles:
        print(f"no styles in {zoo.CHECKPOINT_DIR}", file=sys.stderr)
        return 1
    width = max(len(style.name) for style in styles)
    for style in styles:
        kind = f"one of {style.styles_in_file} styles" if style.styles_in_file > 1 else "single style"
        print(f"{style.name:<{width}}  {style.path.relative_to(zoo.CHECKPOINT_DIR.parent)}  ({kind})")
    return 0
