"""Uploaded images: size and pixel limits, a full decode, and storage under names we choose.

Every check happens before a credit is charged; each failure is one `UploadError` with a clear
message and the HTTP status to answer with. The user's file name is never used: files are stored
as `<job or upload id>-<role>.<format>` under the data dir.
"""

from __future__ import annotations

import io
import uuid
import warnings
from dataclasses import dataclass
from pathlib import Path

from PIL import Image

from fst.io.atomic import atomic_path
from fst.io.images import ImageReadError, read_image
from fst.web.services.errors import ServiceError

# The formats users may upload, by what the bytes are (never the file name or declared type).
FORMATS = {"JPEG": "jpg", "PNG": "png", "WEBP": "webp"}


class UploadError(ServiceError):
    """A rejected upload; `status` is the HTTP status (400 bad image, 413 too large)."""


@dataclass(frozen=True)
class CheckedImage:
    data: bytes
    extension: str  # "jpg", "png" or "webp"
    width: int
    height: int


def check_image(data: bytes, max_bytes: int, max_pixels: int, label: str = "photo") -> CheckedImage:
    """Validate uploaded bytes: not empty, not too large, a JPEG/PNG/WebP, within the pixel limit, decodable."""
    if not data:
        raise UploadError(f"the {label} is empty (0 bytes)")
    if len(data) > max_bytes:
        raise UploadError(f"the {label} is larger than {max_bytes // (1024 * 1024)} MB", status=413)
    too_many = f"the {label} has more than {max_pixels / 1e6:.0f} megapixels (the limit)"
    try:
        with warnings.catch_warnings():
            # Only the header is read here; the pixel limit below is ours and stricter than PIL's warning.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data)) as opened:
                kind, (width, height) = opened.format, opened.size
    except Image.DecompressionBombError:  # PIL refuses to even open it: far over any limit
        raise UploadError(too_many, status=413) from None
    except (Image.UnidentifiedImageError, OSError, ValueError):
        raise UploadError(f"the {label} is not a JPEG, PNG or WebP image") from None
    if kind not in FORMATS:
        raise UploadError(f"the {label} is a {kind} image; upload a JPEG, PNG or WebP")
    # Before decoding: a small file can declare billions of pixels (a decompression bomb).
    if width * height > max_pixels:
        raise UploadError(f"{too_many}: {width}x{height}", status=413)
    return CheckedImage(data=data, extension=FORMATS[kind], width=width, height=height)


def store_image(checked: CheckedImage, data_dir: Path, owner: int, role: str) -> str:
    """Write the bytes under a new random name, fully decode them once, and return the relative path.

    The decode (fst's own reader: truncation, corrupt data, EXIF) runs on the stored file so the
    worker later reads exactly what was checked; a file that fails is removed again.
    """
    relative = f"uploads/{owner}/{uuid.uuid4().hex}-{role}.{checked.extension}"
    path = data_dir / relative
    with atomic_path(path) as temp:
        temp.write_bytes(checked.data)
    try:
        read_image(path)
    except ImageReadError as error:
        path.unlink(missing_ok=True)
        reason = str(error).split(": ", 1)[-1]  # drop our own file name from the message
        raise UploadError(f"the {role} cannot be decoded ({reason})") from None
    return relative


def remove_files(data_dir: Path, *relative: str | None) -> None:
    """Delete stored files (photo, style image, result); already missing is fine."""
    for name in relative:
        if name:
            (data_dir / name).unlink(missing_ok=True)
