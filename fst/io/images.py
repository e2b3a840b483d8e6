"""Reading and writing image files: the one place that knows about PIL modes, EXIF and bit depth.

Everything leaving this module is float32 RGB in [0, 1], shaped (3, H, W), so training and
inference see identical tensors for the same file (`tests/io/test_images.py` checks that).
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image, ImageOps

from fst.io.atomic import atomic_path
from fst.resize import resize_long_side

IMAGE_EXTENSIONS = (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff")

# A decompression bomb is a bad file like any other: PIL's warning becomes our one-line error.
Image.MAX_IMAGE_PIXELS = 200_000_000


class ImageReadError(Exception):
    """A file that cannot be decoded; the message is one line that names the file."""


@dataclass
class DecodedImage:
    """An RGB image plus the alpha channel it carried, if any (kept to re-attach on output)."""

    rgb: Image.Image
    alpha: Image.Image | None = None


def _to_8bit_rgb(image: Image.Image) -> Image.Image:
    """Convert any PIL mode to 8-bit RGB without PIL's clipping of 16-bit data."""
    if image.mode in ("I;16", "I;16B", "I;16L", "I"):
        # PIL's convert("RGB") clips 16-bit values at 255 (a white image); rescale instead.
        array = np.asarray(image, dtype=np.float64)
        peak = 65535.0 if array.max() > 255 or image.mode.startswith("I;16") else 255.0
        grey = np.clip(np.round(array / peak * 255.0), 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "F":
        grey = np.clip(np.asarray(image) * 255.0, 0, 255).astype(np.uint8)
        return Image.fromarray(grey, mode="L").convert("RGB")
    if image.mode == "RGB":
        return image
    return image.convert("RGB")


def read_image(path: str | Path, keep_alpha: bool = False) -> DecodedImage:
    """Decode a file to 8-bit RGB with its EXIF orientation applied.

    Greyscale, palette, CMYK, 16-bit and alpha images are converted. Any failure (missing,
    empty, truncated, not an image) raises `ImageReadError` with a one-line message.
    """
    path = Path(path)
    try:
        if path.stat().st_size == 0:
            raise ImageReadError(f"{path}: empty file (0 bytes)")
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(path) as opened:
                opened.load()  # force the full decode now so truncation surfaces here
                image = ImageOps.exif_transpose(opened)
    except ImageReadError:
        raise
    except FileNotFoundError:
        raise ImageReadError(f"{path}: no such file") from None
    except Image.UnidentifiedImageError:
        raise ImageReadError(f"{path}: not a readable image") from None
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError, Warning) as error:
        message = str(error).splitlines()[0] if str(error) else type(error).__name__
        raise ImageReadError(f"{path}: cannot decode ({message})") from None

    alpha = None
    if keep_alpha and (image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info):
        alpha = image.convert("RGBA").getchannel("A")
    if image.mode in ("RGBA", "LA", "PA"):
        image = image.convert("RGBA").convert("RGB")
    return DecodedImage(rgb=_to_8bit_rgb(image), alpha=alpha)


def load_rgb(path: str | Path) -> Image.Image:
    """Decode a file to 8-bit RGB (alpha dropped); see `read_image`."""
    return read_image(path).rgb


def pil_to_tensor(image: Image.Image) -> torch.Tensor:
    """8-bit RGB PIL image -> float32 tensor (3, H, W) in [0, 1]: the project's pixel convention."""
    array = np.asarray(image.convert("RGB"), dtype=np.uint8)
    return torch.from_numpy(array.copy()).permute(2, 0, 1).float().div_(255.0)


def tensor_to_pil(tensor: torch.Tensor) -> Image.Image:
    """Float tensor (3, H, W) in [0, 1] -> 8-bit RGB PIL image (rounded, clamped)."""
    array = tensor.detach().float().clamp(0, 1).mul(255.0).round().byte()
    return Image.fromarray(array.permute(1, 2, 0).cpu().numpy(), mode="RGB")


def load_tensor(path: str | Path, long_side: int | None = None) -> torch.Tensor:
    """Decode a file to a (3, H, W) tensor in [0, 1], its long side resized (up or down) to `long_side`."""
    return resize_long_side(pil_to_tensor(load_rgb(path))[None], long_side)[0]


def save_image_atomic(
    image: Image.Image,
    path: str | Path,
    quality: int = 95,
    alpha: Image.Image | None = None,
    png_compression: int = 6,
) -> None:
    """Write `image` to `path` via a temporary file in the same folder and a rename.

    A killed job therefore leaves either the old state or the complete file, never a partial one.

    Args:
        quality: JPEG and WebP quality.
        png_compression: zlib level of PNG files, 0-9 (lossless either way; 1 writes a 1024 px
            photo 5x faster than PIL's default 6, for an 18% larger file).
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if alpha is not None and suffix in (".png", ".webp", ".tif", ".tiff"):
        image = image.convert("RGBA")
        image.putalpha(alpha)
    # JPEG and PNG are known after `preinit`; `registered_extensions` imports all ~45 PIL plugins
    # (25-90 ms of a one-photo run), so only other suffixes ask it.
    Image.preinit()
    fmt = Image.EXTENSION.get(suffix) or Image.registered_extensions().get(suffix)
    if fmt is None:
        raise ValueError(f"{path}: unknown image extension {suffix!r}")
    options: dict = {"quality": quality} if fmt in ("JPEG", "WEBP") else {}
    if fmt == "PNG":
        options = {"compress_level": png_compression}
    with atomic_path(path) as temp, temp.open("wb") as handle:
        image.save(handle, format=fmt, **options)
