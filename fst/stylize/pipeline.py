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
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from fst.checkpoint import CheckpointError
from fst.io.images import (
    DecodedImage,
    ImageReadError,
    read_image,
    save_image_atomic,
)
from fst.stylize import buckets, controls, inputs, norm_stats, tiling
from fst.stylize.loading import load_stylizer

Precision = Literal["auto", "fp32", "bf16", "fp16"]
_DTYPES = {"bf16": torch.bfloat16, "fp16": torch.float16}


@dataclass
class StylizeOptions:
    """Everything one run needs; `stylize.py` fills it from the command line."""

    inputs: str
    out_dir: Path
    checkpoints: list[Path]
    format: str | None = None  # None keeps each input's format; "jpg", "png" or "webp" forces one
    quality: int = 92
    device: str = "auto"
    precision: Precision = "auto"  # bf16 on CUDA and on CPUs with bf16 instructions, else fp32
    channels_last: bool = True
    compile: Literal["auto", "on", "off"] = "auto"
    # auto: compile a bucket once this many megapixels of it were seen. A cold compile costs
    # ~10 s on this 2-core CPU and saves ~0.8 s per megapixel (benchmarks/stylize_mixed_sizes.py).
    compile_after_mpx: float = 16.0
    bucket: int = 128  # pad to multiples of this (masked norm stats) unless compile is "off"; 0: never
    batch_size: int = 0  # 0: 1 on CPU (batching measured slower at 512 and 1024 px), 4 on CUDA
    workers: int = 2
    overwrite: bool = False
    strength: float = 1.0
    preserve_color: bool = False
    content_scale: float = 1.0
    max_pixels: int = 6_000_000  # larger images are tiled (about 2 GiB of activations on CPU)
    tile_size: int = 1024
    overlap: int = 128
    output_head: str = "clamp"
    progress: bool = True


@dataclass
class Summary:
    written: int = 0
    skipped: int = 0
    failed: list[str] = field(default_factory=list)


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def cpu_has_bf16() -> bool:
    """Whether this CPU computes bf16 natively (AVX512-BF16 or AMX); emulated bf16 is slower than fp32."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: stay with fp32
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: Precision, device: torch.device) -> Precision:
    """`auto`: bf16 where it is fast (output > 40 dB PSNR against fp32), fp32 elsewhere."""
    if precision != "auto":
        return precision
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp16"
    return "bf16" if device.type == "cpu" and cpu_has_bf16() else "fp32"


class Stylizer:
    """One loaded style on one device: batches in, stylized batches out (controls applied)."""

    def __init__(self, net: torch.nn.Module, name: str, options: StylizeOptions, device: torch.device) -> None:
        self.name = name
        self.options = options
        self.device = device
        memory_format = torch.channels_last if options.channels_last else torch.contiguous_format
        self.net = net.to(device).to(memory_format=memory_format).eval()
        self.tiled_net = norm_stats.with_global_stats(self.net)
        self.precision = resolve_precision(options.precision, device)
        self.compiled: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None
        self.pixels_seen: dict[tuple[int, ...], int] = {}
        self.compiled_shapes: set[tuple[int, ...]] = set()  # graphs built (each cost a compile)

    def autocast(self) -> AbstractContextManager:
        dtype = _DTYPES.get(self.precision)
        return torch.autocast(self.device.type, dtype=dtype) if dtype else nullcontext()

    def _forward(self, batch: torch.Tensor) -> torch.Tensor:
        """The net on a device batch; size buckets that recur run compiled (a compile costs 10-47 s).

        Until its bucket is compiled an image runs the plain net at its own size: eager, padding
        and masked statistics only cost time (mixed folder: 23.7 s against 16.0 s).
        """
        mode, bucket = self.options.compile, self.options.bucket
        height, width = batch.shape[-2:]
        size = buckets.bucket_size(height, width, max(bucket, 1))
        shape = (batch.shape[0], 3, *size)
        self.pixels_seen[shape] = self.pixels_seen.get(shape, 0) + batch.shape[0] * height * width
        use_compiled = mode == "on" or (
            mode == "auto" and self.pixels_seen[shape] >= self.options.compile_after_mpx * 1e6
        )
        if not use_compiled or bucket <= 0:
            with torch.inference_mode(), self.autocast():
                return self.net(self._memory_format(batch)).float()
        if self.compiled is None:
            torch._dynamo.config.cache_size_limit = 64  # one graph per bucket; folders hold few
            # No inductor freezing: it was 5% faster at 1024 px but bakes the weights into the
            # graph, so every further style (or run in one process) recompiled.
            self.compiled = torch.compile(buckets.masked_forward, dynamic=False)
        self.compiled_shapes.add(shape)
        padded = self._memory_format(buckets.pad_to(batch, size))
        mask = buckets.valid_mask(height, width, size).to(self.device)
        with torch.inference_mode(), self.autocast():
            return self.compiled(self.net, padded, mask)[..., :height, :width].float()

    def _memory_format(self, batch: torch.Tensor) -> torch.Tensor:
        return batch.contiguous(memory_format=torch.channels_last) if self.options.channels_last else batch

    @torch.inference_mode()  # results are modified in place below
    def __call__(self, content: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) uint8 CPU content -> (N, 3, H, W) uint8 CPU stylized, same size.

        uint8 at both ends: a 6000x4000 image is 72 MB so, 288 MB as float; the float copy is
        made only where needed (the net's input, tile by tile when tiled, and the controls).
        """
        height, width = content.shape[-2:]
        size = controls.scaled_size(height, width, self.options.content_scale)
        scaled = content if size == (height, width) else controls.resize(to_float(content), size)
        if size[0] * size[1] > self.options.max_pixels:
            stylized = _stack([self._tiled(image) for image in scaled])
        else:
            try:
                stylized = self._forward(to_float(scaled.to(self.device))).cpu()
            except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
                if not _is_out_of_memory(error):
                    raise
                _free_memory(self.device)
                stylized = _stack([self._tiled(image) for image in scaled])  # fall back to tiles
        del scaled
        stylized = controls.resize(stylized, (height, width))
        if self.options.strength != 1.0 or self.options.preserve_color:  # neutral controls: no float copy
            stylized = controls.apply_controls(
                to_float(content), stylized, self.options.strength, self.options.preserve_color
            )
        # In place, as `fst.io.images.tensor_to_pil` rounds: clamp, x255, round.
        return stylized.clamp_(0, 1).mul_(255.0).round_().to(torch.uint8)

    def _tiled(self, image: torch.Tensor) -> torch.Tensor:
        tile_size = self.options.tile_size
        while True:
            try:
                with self.autocast():
                    return tiling.stylize_tiled(self.tiled_net, image, tile_size, self.options.overlap)
            except (torch.OutOfMemoryError, MemoryError, RuntimeError) as error:
                if not _is_out_of_memory(error) or tile_size <= 128:
                    raise
                _free_memory(self.device)
                tile_size //= 2  # halve the tile until it fits


def _is_out_of_memory(error: BaseException) -> bool:
    return isinstance(error, (torch.OutOfMemoryError, MemoryError)) or "out of memory" in str(error).lower()


def _free_memory(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.empty_cache()


def _decode(job: inputs.Job) -> tuple[inputs.Job, DecodedImage | None, str | None]:
    try:
        return job, read_image(job.source, keep_alpha=True), None
    except ImageReadError as error:
        return job, None, str(error)


def to_float(image: torch.Tensor) -> torch.Tensor:
    """uint8 -> float32 in [0, 1], exactly as `fst.io.images.pil_to_tensor` converts; floats pass."""
    return image.float().div_(255.0) if image.dtype == torch.uint8 else image


def _stack(images: list[torch.Tensor]) -> torch.Tensor:
    return images[0][None] if len(images) == 1 else torch.stack(images)  # one image: no copy


def _to_uint8_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> (3, H, W) uint8 tensor (a view of one array copy)."""
    return torch.from_numpy(np.array(image.convert("RGB"), dtype=np.uint8)).permute(2, 0, 1)


def _encode(job: inputs.Job, stylized: torch.Tensor, alpha: Image.Image | None, quality: int) -> None:
    """(3, H, W) uint8 -> file, atomically."""
    image = Image.fromarray(np.ascontiguousarray(stylized.permute(1, 2, 0).numpy()), mode="RGB")
    save_image_atomic(image, job.target, quality=quality, alpha=alpha)


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


def _log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def run(options: StylizeOptions) -> int:
    """Stylize every input with every checkpoint; returns the exit status (1 if any file failed)."""
    rank, world_size = inputs.rank_and_world_size()
    device = resolve_device(options.device)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", rank % torch.cuda.device_count())
    try:
        loaded = [load_stylizer(path, options.output_head) for path in options.checkpoints]
    except CheckpointError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    names = [metadata["name"] for _, metadata in loaded]
    if len(set(names)) < len(names):  # two checkpoints with one style name: use file names
        names = [Path(path).stem for path in options.checkpoints]
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

        compiled = 0
        for (net, _), name in zip(loaded, names, strict=True):
            stylizer = Stylizer(net, name, options, device)
            style_jobs = [job for job in todo if job.style == name]
            decoded = _prefetch(decoders, _decode, style_jobs, depth)
            for batch in _batches(decoded, batch_size, decode_failed):
                content = _stack([_to_uint8_tensor(image.rgb) for _, image in batch])
                try:
                    stylized = stylizer(content)
                    del content  # a 6000x4000 image: do not hold it while encoding
                except Exception as error:  # one bad batch must not end a 10,000-image job
                    for job, _ in batch:
                        fail(f"{job.source}: stylizing failed ({str(error).splitlines()[0][:200]})")
                    bar.update(len(batch))
                    continue
                for (job, image), result in zip(batch, stylized, strict=True):
                    writes.append((job, encoders.submit(_encode, job, result, image.alpha, options.quality)))
                while len(writes) > depth:  # bound the stylized tensors waiting for encoding
                    finish(writes.popleft())
                bar.update(len(batch))
            compiled += len(stylizer.compiled_shapes)
        while writes:
            finish(writes.popleft())
    elapsed = time.perf_counter() - start
    shard_note = f" (worker {rank + 1}/{world_size})" if world_size > 1 else ""
    rate = summary.written / elapsed if elapsed > 0 else 0.0
    print(
        f"stylized {summary.written}, skipped {summary.skipped} existing, failed {len(summary.failed)}"
        f"{shard_note} in {elapsed:.1f} s ({rate:.2f} img/s, {compiled} compiled shapes); outputs in {options.out_dir}",
        file=sys.stderr,
    )
    return 1 if summary.failed else 0
