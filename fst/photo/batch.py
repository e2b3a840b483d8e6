"""The `--photo-style` job: every photo in the reference's look, one at a time.

The batch job's safety rules hold (`fst.stylize.pipeline` plans, skips and reports): each output
is written atomically, a bad photo or mask costs one line naming it and the job goes on.
No batching or tiling is needed: the look's cost is a 512 px target plus one pass over the pixels.
"""

from __future__ import annotations

import sys
from collections.abc import Callable

from tqdm import tqdm

from fst.io.images import ImageReadError, read_image
from fst.optimize.masks import MaskError
from fst.photo.masks import MaskPairs
from fst.photo.transfer import PhotoLook
from fst.stylize.batch import Summary
from fst.stylize.engine import write_uint8
from fst.stylize.inputs import Job
from fst.stylize.options import OutputOptions


def _log(message: str) -> None:
    tqdm.write(message, file=sys.stderr)


def stylize(
    look: PhotoLook,
    jobs: list[Job],
    output: OutputOptions,
    masks: MaskPairs | None = None,
    log: Callable[[str], None] = _log,
) -> Summary:
    """Give every job's photo the look and write it; failures are counted and logged, one line each."""
    summary = Summary()
    for job in tqdm(jobs, unit="img", disable=not output.progress, file=sys.stderr):
        try:
            decoded = read_image(job.source, keep_alpha=True)
            regions = None
            if masks is not None:
                size = (decoded.rgb.height, decoded.rgb.width)
                regions = look.region_masks(size, masks.content_for(job.source), masks.reference)
            stylized = look(decoded.rgb, regions)
        except (ImageReadError, MaskError) as error:  # they name their file
            summary.failed.append(str(error))
            log(f"failed: {error}")
            continue
        except Exception as error:  # one bad photo must not end the job
            first_line = str(error).splitlines()[0][:200] if str(error) else type(error).__name__
            summary.failed.append(f"{job.source}: photo style failed ({first_line})")
            log(f"failed: {summary.failed[-1]}")
            continue
        try:
            write_uint8(stylized, job.target, output, decoded.alpha)
            summary.written += 1
        except Exception as error:
            summary.failed.append(f"{job.target}: cannot write ({str(error).splitlines()[0][:200]})")
            log(f"failed: {summary.failed[-1]}")
    return summary
