"""The batch job: decode in threads -> batch same-size images -> net -> controls -> encode in threads.

Safety rules: every output is written atomically, an existing output is skipped (a rerun resumes),
a bad file costs one line on stderr and the job goes on, and the exit status says whether any
file failed. Images over `max_pixels` (or that run out of memory) are stylized in tiles.

`run` reads top to bottom as the job's steps: place this worker -> load the styles -> plan the
jobs (skipping existing outputs) -> stylize each style's batches (here, or on Ray actors with
`engine="ray"`, `fst.stylize.ray_engine`, which run this same `BatchRun`) -> report.
"""

from __future__ import annotations

import math
import sys
import time
from pathlib import Path

import torch

from fst import zoo
from fst.checkpoint import CheckpointError
from fst.device import resolve_device, resolve_precision
from fst.io.images import ImageReadError
from fst.stylize import inputs
from fst.stylize.batch import BatchRun, Summary, load_styles
from fst.stylize.options import StylizeOptions
from fst.stylize.ray_start import RayStart, start_for

__all__ = ["StylizeOptions", "list_styles", "resolve_precision", "run"]


def place_worker(device_spec: str) -> tuple[torch.device, int, int]:
    """(device, rank, world size): this process's share of a torchrun/SLURM job, one GPU per rank."""
    rank, world_size = inputs.rank_and_world_size()
    device = resolve_device(device_spec)
    if device.type == "cuda" and world_size > 1:
        device = torch.device("cuda", rank % torch.cuda.device_count())
    return device, rank, world_size


def plan(options: StylizeOptions, names: list[str], rank: int, world_size: int) -> tuple[list[inputs.Job], int]:
    """This worker's jobs still to do, and how many it skips because their output exists.

    Also removes what a killed run was writing (its target is redone).

    Raises:
        FileNotFoundError: the inputs match nothing.
    """
    jobs = inputs.plan_jobs(options.inputs, Path(options.out_dir), names, options.output.format)
    jobs = inputs.shard(jobs, rank, world_size)
    inputs.remove_stale_parts(jobs)
    todo = [job for job in jobs if options.output.overwrite or not job.target.exists()]
    return todo, len(jobs) - len(todo)


def report(options: StylizeOptions, summary: Summary, ran: str, elapsed: float, rank: int, world_size: int) -> None:
    """One line on stderr: written, skipped, failed, speed, what ran (`ran`: "compiled net",
    "photo look (sliced)") and where the outputs are."""
    shard_note = f" (worker {rank + 1}/{world_size})" if world_size > 1 else ""
    rate = summary.written / elapsed if elapsed > 0 else 0.0
    print(
        f"stylized {summary.written}, skipped {summary.skipped} existing, failed {len(summary.failed)}"
        f"{shard_note} in {elapsed:.1f} s ({rate:.2f} img/s, {ran}); "
        f"outputs in {options.out_dir}",
        file=sys.stderr,
    )


def net_modes(modes: set[str]) -> str:
    """What ran, for the report: the net's modes joined, e.g. "bf16+compiled net"."""
    return f"{'+'.join(sorted(modes)) or 'no'} net"


def run(options: StylizeOptions, ray_start: RayStart | None = None) -> int:
    """Stylize every input with every style; returns the exit status (1 if any file failed, 2 if
    the job cannot start: a bad style, checkpoint or input spec, reported in one line).

    `ray_start`: Ray already starting for `engine="ray"` (the CLI starts it before importing torch);
    without it, Ray starts here, while the styles load.
    """
    ray_start = ray_start or start_for(options)
    try:
        return _run(options, ray_start)
    finally:
        if ray_start is not None:
            ray_start.stop()


def _run(options: StylizeOptions, ray_start: RayStart | None) -> int:
    device, rank, world_size = place_worker(options.performance.device)
    if options.style.photo_style is not None:  # fst.photo builds on this package, not the reverse
        print("error: a photo-style run goes through fst.photo.job.run", file=sys.stderr)
        return 2
    try:
        styles = load_styles(options.style)
        todo, skipped = plan(options, [name for name, _ in styles], rank, world_size)
    except (CheckpointError, ValueError, ImageReadError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    if ray_start is not None:
        try:
            ray_engine = ray_start.engine()
        except ImportError as error:
            print(f"error: --engine ray needs Ray ({error}): pip install 'fst[ray]'", file=sys.stderr)
            return 2
        summary, modes = ray_engine.stylize(options, styles, todo)
    else:
        with BatchRun(options, device, len(todo)) as batch_run:
            for name, net in styles:
                style_jobs = [job for job in todo if job.style == name]
                batch_run.stylize(batch_run.stylizer(net, name, style_jobs), style_jobs)
        summary, modes = batch_run.summary, batch_run.modes
    summary.skipped = skipped
    report(options, summary, net_modes(modes), time.perf_counter() - start, rank, world_size)
    return 1 if summary.failed else 0


def list_styles() -> int:
    """Print every shipped style with its file (`stylize.py --list-styles`)."""
    styles = zoo.shipped_styles()
    if not styles:
        print(f"no styles in {zoo.CHECKPOINT_DIR}", file=sys.stderr)
        return 1
    width = max(len(style.name) for style in styles)
    chosen = {name: zoo.find_style_file({name: 1.0}, styles) for name in {style.name for style in styles}}
    for style in styles:
        kind = f"one of {style.styles_in_file} styles" if style.styles_in_file > 1 else "single style"
        cost = f", {style.gflop_per_mpx:.0f} GFLOP/Mpx" if style.gflop_per_mpx < math.inf else ""
        use = "--style runs it" if chosen[style.name] == style.path else "with -c FILE"
        print(f"{style.name:<{width}}  {style.path.relative_to(zoo.CHECKPOINT_DIR.parent)}  ({kind}{cost}; {use})")
    return 0
