"""How far one stylize call has got, as a fraction in [0, 1] that only ever grows.

The engine gives each stage (decode, net, encode) a `span` of the whole; inside the net, the
stylizer reports each stage of the eager net or each tile, weighted by its multiply-adds
(`stage_costs`), so the fraction moves about evenly in time and an ETA can be read from it. A
compiled package runs the net as one opaque call: `ticking` moves its span by the time the last
such call took per pixel (`Pace`) instead.
"""

from __future__ import annotations

import threading
import time
import weakref
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import torch
from torch import nn

from fst.models.transformer import TransformerNet
from fst.periodic import every

TICK_S = 0.1  # how often an opaque call's estimated progress is reported
TICK_CAP = 0.9  # an estimate never claims the last tenth of its span: the call ends it


@dataclass
class _Shared:
    """What every span of one call shares: the callback, the last fraction reported, a lock."""

    callback: Callable[[float], None]
    last: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)


class Progress:
    """Fractions of one call's work, to a callback; never decreasing, so retries cannot go back.

    `progress(0.5)` reports the middle of this span; `progress.span(0.2, 0.9)` is a sub-range of it
    for a stage, whose own fractions 0..1 map into [0.2, 0.9] of this one. Thread-safe.
    """

    def __init__(self, callback: Callable[[float], None], start: float = 0.0, end: float = 1.0) -> None:
        self._shared = _Shared(callback)
        self.start, self.end = start, end

    def __call__(self, fraction: float) -> None:
        value = self.start + (self.end - self.start) * min(1.0, max(0.0, fraction))
        with self._shared.lock:
            if value <= self._shared.last:
                return
            self._shared.last = value
            self._shared.callback(value)

    def span(self, start: float, end: float) -> Progress:
        width = self.end - self.start
        part = Progress(self._shared.callback, self.start + width * start, self.start + width * end)
        part._shared = self._shared
        return part


@dataclass
class Pace:
    """Seconds per pixel of a net's last opaque (compiled) call: how long the next one should take."""

    seconds_per_pixel: float | None = None

    def expected_s(self, pixels: int) -> float | None:
        return None if self.seconds_per_pixel is None else self.seconds_per_pixel * pixels

    def record(self, seconds: float, pixels: int) -> None:
        self.seconds_per_pixel = seconds / max(1, pixels)


@contextmanager
def ticking(progress: Progress | None, expected_s: float | None) -> Iterator[None]:
    """While an opaque call runs, report `elapsed / expected_s` of `progress` (up to `TICK_CAP`)
    every `TICK_S`. Nothing without an expectation (the first call of a net)."""
    if progress is None or not expected_s:
        yield
        return
    start = time.perf_counter()

    def tick() -> None:
        progress(min(TICK_CAP, (time.perf_counter() - start) / expected_s))

    with every(TICK_S, tick, name="progress-tick"):
        yield


_COSTS: weakref.WeakKeyDictionary[TransformerNet, list[float]] = weakref.WeakKeyDictionary()
_COSTS_LOCK = threading.Lock()


def stage_costs(net: TransformerNet) -> list[float]:
    """Each of `net.stages`' share of a forward pass's multiply-adds (its convolutions), summing to 1.

    Counted once per net (11 ms on a 2-core CPU: 13% of a 128-px job, so kept) on a 32x32 input
    with forward hooks: the shares do not depend on the image size (every stage's resolution is a
    fixed fraction of the input's).
    """
    with _COSTS_LOCK:
        if net not in _COSTS:
            _COSTS[net] = _count_stage_costs(net)
        return _COSTS[net]


def _count_stage_costs(net: TransformerNet) -> list[float]:
    macs: list[float] = []
    parameter = next(net.parameters())
    x = torch.zeros(1, 3, 32, 32, device=parameter.device, dtype=parameter.dtype)
    with torch.inference_mode():
        for stage in net.stages:
            counted = [0.0]

            def count(module: nn.Conv2d, _: tuple, output: torch.Tensor, counted: list[float] = counted) -> None:
                kernel = module.kernel_size[0] * module.kernel_size[1]
                counted[0] += output.numel() * kernel * module.in_channels / module.groups

            convolutions = [m for m in stage.modules() if isinstance(m, nn.Conv2d)]
            hooks = [conv.register_forward_hook(count) for conv in convolutions]
            try:
                x = stage(x)
            finally:
                for hook in hooks:
                    hook.remove()
            macs.append(counted[0])
    total = sum(macs) or 1.0
    return [m / total for m in macs]
