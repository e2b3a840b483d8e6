"""Which files to stylize and where each output goes: the only module that walks folders."""

from __future__ import annotations

import glob
import os
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fst.io.images import IMAGE_EXTENSIONS

_EXIF_ORIENTATION = 0x0112  # values 5-8 are rotations by 90 or 270 degrees
FORMATS = {"jpg": ".jpg", "png": ".png", "webp": ".webp"}


@dataclass(frozen=True)
class Job:
    """One input file and the output it becomes for one style."""

    source: Path
    target: Path
    style: str


def _is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_EXTENSIONS and not path.name.startswith(".")


def collect_inputs(spec: str | Path, exclude: Path | None = None) -> tuple[Path, list[Path]]:
    """Expand a file, folder (recursive), glob, or list file (`.txt`, one path a line).

    Returns:
        (root, files): outputs mirror each file's path relative to root. Files under `exclude`
        (the output folder, when it sits inside the input folder) are skipped so reruns never
        stylize their own outputs.
    """
    spec_path = Path(spec)
    if spec_path.is_dir():
        root = spec_path
        files = [Path(d) / f for d, _, names in os.walk(spec_path) for f in names]
        files = [f for f in files if _is_image(f)]
    elif spec_path.is_file() and spec_path.suffix.lower() == ".txt":
        lines = spec_path.read_text().splitlines()
        files = [_absolute(line.strip()) for line in lines if line.strip() and not line.startswith("#")]
        root = Path(os.path.commonpath([f.parent for f in files])) if files else spec_path.parent
    elif spec_path.is_file() or any(ch in str(spec) for ch in "*?["):
        # A single file (bad files included: they get their one-line error later) or a glob.
        files = [spec_path] if spec_path.is_file() else [Path(p) for p in glob.glob(str(spec), recursive=True)]
        files = [_absolute(f) for f in files if f.is_file()]
        root = Path(os.path.commonpath([f.parent for f in files])) if files else Path(".")
    else:
        raise FileNotFoundError(f"{spec}: no such file, folder or glob match")
    if exclude is not None and exclude.resolve() != root.resolve():
        excluded = exclude.resolve()
        files = [f for f in files if not f.resolve().is_relative_to(excluded)]
    return root, sorted(files)


def _absolute(path: str | Path) -> Path:
    """An absolute path, symlinks not followed: a linked photo's output takes the link's name."""
    return Path(os.path.abspath(path))


def relative_to_root(source: Path, root: Path) -> Path:
    """`source`'s place under `root`, symlinks not followed: a folder of links to photos elsewhere
    mirrors its own layout (resolving the link first put the file outside the folder, a crash)."""
    return _absolute(source).relative_to(_absolute(root))


def output_path(source: Path, root: Path, out_dir: Path, style: str | None, fmt: str | None) -> Path:
    """Mirror `source` under `out_dir` (in a `style` subfolder when several styles run).

    Never the input itself: if the mirrored path is the source (out_dir == input folder), the style
    name is appended to the file name.
    """
    relative = relative_to_root(source, root)
    target = out_dir / (style or "") / relative
    if fmt is not None:
        target = target.with_suffix(FORMATS[fmt])
    if target.resolve() == source.resolve():
        target = target.with_name(f"{target.stem}_{style or 'stylized'}{target.suffix}")
    return target


def is_own_output(path: Path, styles: list[str]) -> bool:
    """Whether a file looks like an output written next to its input (`<stem>_<style>.<ext>`)."""
    return any(path.stem.endswith(f"_{style}") for style in [*styles, "stylized"])


def plan_jobs(spec: str | Path, out_dir: Path, styles: list[str], fmt: str | None = None) -> list[Job]:
    """Every (input, output, style) of a run, sorted, in-place outputs of earlier runs left out."""
    root, files = collect_inputs(spec, exclude=out_dir)
    in_place = out_dir.resolve() == root.resolve()
    if in_place:
        # Outputs of earlier runs live among the inputs: by name, or in per-style subfolders.
        files = [f for f in files if not is_own_output(f, styles)]
        if len(styles) > 1:
            files = [f for f in files if relative_to_root(f, root).parts[0] not in styles]
    jobs = []
    for style in styles:
        subfolder = style if len(styles) > 1 else None
        for source in files:
            target = output_path(source, root, out_dir, subfolder, fmt)
            if in_place and subfolder is None:
                target = target.with_name(f"{source.stem}_{style}{target.suffix}")
            jobs.append(Job(source, target, style))
    return jobs


def shard(jobs: list[Job], rank: int, world_size: int) -> list[Job]:
    """This worker's share: every world_size-th input, so N workers cover each job exactly once."""
    return jobs[rank::world_size]


def rank_and_world_size(env: os._Environ[str] | dict[str, str] = os.environ) -> tuple[int, int]:
    """From torchrun (RANK, WORLD_SIZE) or SLURM (SLURM_PROCID, SLURM_NTASKS); (0, 1) otherwise."""
    for rank_key, world_key in (("RANK", "WORLD_SIZE"), ("SLURM_PROCID", "SLURM_NTASKS")):
        if rank_key in env and world_key in env:
            rank, world = int(env[rank_key]), int(env[world_key])
            if not 0 <= rank < world:
                raise ValueError(f"{rank_key}={rank} is outside 0..{world - 1}")
            return rank, world
    return 0, 1


def remove_stale_parts(jobs: list[Job]) -> int:
    """Delete temp files (`.<name>.<random>.part`, see `fst.io.atomic`) left beside these jobs' targets.

    A SIGKILLed job cannot clean up its temp file; the rerun does, for its own targets only (each
    cluster worker owns a disjoint set). Returns how many were removed.
    """
    names_by_folder: dict[Path, set[str]] = {}
    for job in jobs:
        names_by_folder.setdefault(job.target.parent, set()).add(job.target.name)
    removed = 0
    for folder, names in names_by_folder.items():
        if not folder.is_dir():
            continue
        for temp in folder.glob(".*.part"):
            if temp.name[1:].rsplit(".", 2)[0] in names:  # strip the leading dot, random part, ".part"
                temp.unlink(missing_ok=True)
                removed += 1
    return removed


def header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) as the image will be decoded (EXIF rotation applied), from its header only."""
    try:
        with Image.open(path) as image:
            width, height = image.size
            orientation = image.getexif().get(_EXIF_ORIENTATION, 1)
    except Exception:  # unreadable: the decode reports it in its one line later
        return None
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def whole_image_work(
    jobs: list[Job], max_pixels: int, content_scale: float = 1.0, enough: tuple[int, float] = (2, 2.0)
) -> tuple[int, float]:
    """(images, megapixels) the net will see whole, not in tiles, from headers only (no decode).

    Stops reading headers once both reach `enough`: a 100k-file folder is not scanned for a yes.
    """
    count, megapixels = 0, 0.0
    for job in jobs:
        size = header_size(job.source)
        pixels = size[0] * size[1] * content_scale**2 if size else 0
        if size is not None and pixels <= max_pixels:
            count, megapixels = count + 1, megapixels + pixels / 1e6
            if count >= enough[0] and megapixels >= enough[1]:
                break
    return count, megapixels
