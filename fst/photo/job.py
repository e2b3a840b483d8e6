"""`stylize.py --photo-style`: the reference's look on every input, planned, skipped and reported as
the style nets' jobs are (`fst.stylize.pipeline`), with the same exit statuses."""

from __future__ import annotations

import sys
import time

from fst.checkpoint import CheckpointError
from fst.io.images import ImageReadError
from fst.optimize.masks import MaskError
from fst.photo import batch
from fst.photo.load import load_look
from fst.stylize.options import StylizeOptions
from fst.stylize.pipeline import place_worker, plan, report


def run(options: StylizeOptions) -> int:
    """0 when every file was written, 1 when any failed, 2 when the job cannot start (a bad
    reference, masks, model or input spec, reported in one line)."""
    _, rank, world_size = place_worker(options.performance.device)
    choice = options.style
    try:
        look, name, masks = load_look(choice)
        todo, skipped = plan(options, [name], rank, world_size)
        if masks is not None:
            masks.check(len(todo) + skipped)
    except (CheckpointError, ValueError, ImageReadError, FileNotFoundError, MaskError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    start = time.perf_counter()
    summary = batch.stylize(look, todo, options.output, masks)
    summary.skipped = skipped
    ran = f"photo look ({choice.photo_method})"  # no style net runs: the line says what did
    report(options, summary, ran, time.perf_counter() - start, rank, world_size)
    return 1 if summary.failed else 0
