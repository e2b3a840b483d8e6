from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from fst.io.images import ImageReadError, load_tensor, pil_to_tensor, read_image, save_image_atomic
from tests.conftest import random_photo


def test_pixel_convention_is_float_rgb_unit_range(tmp_path: Path) -> None:
    path = tmp_path / "a.png"
    Image.fromarray(np.array([[[0, 128, 255]]], dtype=np.uint8)).save(path)
    tensor = load_tensor(path)
    assert tensor.dtype == torch.float32 and tensor.shape == (3, 1, 1)
    assert torch.allclose(tensor.flatten(), torch.tensor([0.0, 128 / 255, 1.0]))


def test_sixteen_bit_png_is_rescaled_not_clipped(tmp_path: Path) -> None:
    path = tmp_path / "deep.png"
    ramp = np.linspace(0, 65535, 64, dtype=np.uint16).reshape(8, 8)
    Image.fromarray(ramp).save(path)
    assert Image.open(path).mode.startswith("I")
    rgb = np.asarray(read_image(path).rgb)
    assert rgb.min() == 0 and rgb.max() == 255
    assert len(np.unique(rgb[..., 0])) > 32  # a ramp, not a white image


def test_cmyk_palette_and_greyscale_become_rgb(tmp_path: Path) -> None:
    photo = random_photo(16, 12)
    for mode, name in [("CMYK", "c.jpg"), ("P", "p.png"), ("L", "l.png"), ("LA", "la.png")]:
        photo.convert(mode).save(tmp_path / name)
        image = read_image(tmp_path / name).rgb
        assert image.mode == "RGB" and image.size == (16, 12)


def test_alpha_kept_when_asked(tmp_path: Path) -> None:
    rgba = random_photo(10, 6).convert("RGBA")
    rgba.putalpha(Image.fromarray(np.full((6, 10), 77, dtype=np.uint8)))
    rgba.save(tmp_path / "a.png")
    decoded = read_image(tmp_path / "a.png", keep_alpha=True)
    assert decoded.rgb.mode == "RGB"
    assert np.asarray(decoded.alpha).max() == 77


def test_exif_orientation_applied(tmp_path: Path) -> None:
    image = random_photo(20, 10)
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise on display
    image.save(tmp_path / "r.jpg", exif=exif.tobytes())
    assert read_image(tmp_path / "r.jpg").rgb.size == (10, 20)


@pytest.mark.parametrize(
    "name,content,message",
    [
        ("empty.jpg", b"", "empty file"),
        ("text.jpg", b"this is not an image\n", "not a readable image"),
    ],
)
def test_bad_files_give_one_line_naming_the_file(tmp_path: Path, name: str, content: bytes, message: str) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(ImageReadError) as error:
        read_image(path)
    assert str(path) in str(error.value) and message in str(error.value)
    assert "\n" not in str(error.value)


def test_truncated_jpeg_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "cut.jpg"
    random_photo(64, 64).save(path, quality=90)
    path.write_bytes(path.read_bytes()[:400])
    with pytest.raises(ImageReadError, match=r"cut\.jpg"):
        read_image(path)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ImageReadError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_atomic_save_leaves_no_temp_files(tmp_path: Path) -> None:
    target = tmp_path / "out" / "x.png"
    save_image_atomic(random_photo(8, 8), target)
    assert [p.name for p in target.parent.iterdir()] == ["x.png"]
    assert torch.equal(load_tensor(target), pil_to_tensor(random_photo(8, 8)))


def test_outputs_are_world_readable(tmp_path: Path) -> None:
    # mkstemp makes 0600 files: an output nobody else can read is a bug in a batch job.
    target = tmp_path / "x.jpg"
    save_image_atomic(random_photo(8, 8), target)
    assert target.stat().st_mode & 0o777 == 0o644


def test_failed_write_leaves_nothing(tmp_path: Path) -> None:
    from fst.io.atomic import atomic_path

    with pytest.raises(RuntimeError), atomic_path(tmp_path / "y.bin") as temp:
        temp.write_bytes(b"half")
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_jpeg_round_trip_skips_the_other_pil_plugins_and_every_suffix_still_saves(tmp_path: Path) -> None:
    import subprocess
    import sys

    # A fresh interpreter: this one's PIL may have loaded every plugin already.
    code = (
        "import sys\nfrom PIL import Image\nfrom fst.io.images import read_image, save_image_atomic\n"
        f"save_image_atomic(Image.new('RGB', (8, 8)), {str(tmp_path / 'a.jpg')!r})\n"
        f"read_image({str(tmp_path / 'a.jpg')!r})\n"
        "print(sorted(m for m in sys.modules if m.endswith('ImagePlugin')))"
    )
    repo = Path(__file__).resolve().parents[2]  # this checkout's fst, not an installed copy
    result = subprocess.run([sys.executable, "-c", code], cwd=repo, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "'PIL.JpegImagePlugin'" in result.stdout and "PIL.PdfImagePlugin" not in result.stdout
    for suffix in (".jpg", ".jpeg", ".png", ".webp", ".bmp", ".tif", ".tiff"):  # others fall back to all plugins
        save_image_atomic(random_photo(8, 6), tmp_path / f"b{suffix}")
        assert read_image(tmp_path / f"b{suffix}").rgb.size == (8, 6)
    with pytest.raises(ValueError, match="unknown image extension"):
        save_image_atomic(random_photo(8, 6), tmp_path / "b.xyz")
