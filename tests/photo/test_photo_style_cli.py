"""`stylize.py PHOTOS -o OUT --photo-style REF [--masks CONTENT_SEG REF_SEG]` end to end on small images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import stylize
from tests.conftest import random_photo

RED, BLUE = (200, 40, 30), (30, 60, 200)


def run(*args: str | Path) -> int:
    return stylize.main([str(a) for a in args] + ["--no-progress"])


def pixels(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), dtype=np.float64)


def textured(width: int, height: int, seed: int) -> np.ndarray:
    """A grey photo with texture (a flat image has no colours to map)."""
    rng = np.random.default_rng(seed)
    grey = 100 + 60 * np.asarray(random_photo(width, height, seed).convert("L"), dtype=np.float64) / 255
    return np.clip(grey[..., None] + rng.normal(0, 3, (height, width, 3)), 0, 255)


@pytest.fixture
def two_regions(tmp_path: Path) -> dict[str, Path]:
    """A grey photo (left | right) and a reference (top red | bottom blue), with masks pairing
    left with top (white) and right with bottom (black)."""
    photo = Image.fromarray(textured(64, 48, seed=1).astype(np.uint8))
    reference = np.zeros((40, 60, 3))
    reference[:20], reference[20:] = RED, BLUE
    reference = np.clip(reference + np.random.default_rng(2).normal(0, 6, reference.shape), 0, 255)
    photo_mask, reference_mask = np.zeros((48, 64, 3), np.uint8), np.zeros((40, 60, 3), np.uint8)
    photo_mask[:, :32], reference_mask[:20] = 255, 255
    paths = {name: tmp_path / f"{name}.png" for name in ("photo", "reference", "photo_mask", "reference_mask")}
    photo.save(paths["photo"])
    Image.fromarray(reference.astype(np.uint8)).save(paths["reference"])
    Image.fromarray(photo_mask).save(paths["photo_mask"])
    Image.fromarray(reference_mask).save(paths["reference_mask"])
    return paths


def test_masks_give_each_region_its_own_regions_colour(tmp_path: Path, two_regions: dict[str, Path]) -> None:
    paths, out = two_regions, tmp_path / "out"
    masks = ["--masks", paths["photo_mask"], paths["reference_mask"]]
    # All of the reference's lightness, so each region's colour is the reference region's exactly.
    assert run(paths["photo"], "-o", out, "--photo-style", paths["reference"], *masks, "--photo-luminance", "1") == 0
    result = pixels(out / "photo.png")
    assert result.shape == (48, 64, 3)
    left, right = result[:, 4:28].mean((0, 1)), result[:, 36:60].mean((0, 1))
    assert np.abs(left - RED).max() < 25 and np.abs(right - BLUE).max() < 25, (left, right)
    # Structure kept: the photo's texture is still there (not a flat fill of the region colour).
    photo_grey = pixels(paths["photo"]).mean(2)[:, 4:28]
    assert np.corrcoef(photo_grey.flatten(), result[:, 4:28].mean(2).flatten())[0, 1] > 0.8
    # The default keeps 30 % of the photo's lightness: the hues stay the regions' own.
    assert run(paths["photo"], "-o", tmp_path / "default", "--photo-style", paths["reference"], *masks) == 0
    default = pixels(tmp_path / "default" / "photo.png")
    left, right = default[:, 4:28].mean((0, 1)), default[:, 36:60].mean((0, 1))
    assert left[0] > left[2] + 80 and right[2] > right[0] + 80, (left, right)
    # Without masks both halves take the same mix of red and blue.
    assert run(paths["photo"], "-o", tmp_path / "whole", "--photo-style", paths["reference"]) == 0
    whole = pixels(tmp_path / "whole" / "photo.png")
    assert np.abs(whole[:, 4:28].mean((0, 1)) - whole[:, 36:60].mean((0, 1))).max() < 40


def test_photo_luminance_takes_auto_or_a_share(capsys: pytest.CaptureFixture) -> None:
    from fst.cli.stylize import parse_args

    assert parse_args(["p.jpg", "--photo-style", "r.jpg"]).style.photo_luminance is None  # auto by default
    assert parse_args(["p.jpg", "--photo-style", "r.jpg", "--photo-luminance", "auto"]).style.photo_luminance is None
    assert parse_args(["p.jpg", "--photo-style", "r.jpg", "--photo-luminance", "0.4"]).style.photo_luminance == 0.4
    with pytest.raises(SystemExit) as exit_info:
        parse_args(["p.jpg", "--photo-style", "r.jpg", "--photo-luminance", "most"])
    assert exit_info.value.code == 2 and "a share in [0, 1] or 'auto', got 'most'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--photo-style", "BAD"], "empty file"),
        (["--photo-style", "MISSING"], "missing.jpg"),
        (["--photo-style", "REF", "--style", "udnie"], "--photo-style (a photo's look) excludes --style"),
        (["--masks", "MASK", "MASK"], "--masks needs --photo-style"),
        (["--photo-style", "REF", "--photo-luminance", "1.5"], "--photo-luminance must be in [0, 1]"),
        (["--photo-style", "REF", "--masks", "MASK", "MISSING"], "missing.jpg: no such reference mask"),
        (["--photo-style", "REF", "--masks", "MASK", "MASK"], "one content mask for 3 photos"),
    ],
)
def test_bad_reference_or_masks_is_one_line_and_exit_2(
    tmp_path: Path, two_regions: dict[str, Path], extra: list[str], message: str, capsys: pytest.CaptureFixture
) -> None:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i in range(3):
        random_photo(30, 20, seed=i).save(folder / f"p{i}.png")
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    names = {
        "BAD": bad,
        "MISSING": tmp_path / "missing.jpg",
        "REF": two_regions["reference"],
        "MASK": two_regions["photo_mask"],
    }
    assert run(folder, "-o", tmp_path / "out", *(str(names.get(a, a)) for a in extra)) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err, err
    assert not (tmp_path / "out").exists()


def test_folder_job_bad_file_one_line_any_size_resume_no_overwrite(
    tmp_path: Path, two_regions: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    folder, out = tmp_path / "photos", tmp_path / "out"
    (folder / "sub").mkdir(parents=True)
    random_photo(37, 29, seed=1).save(folder / "odd.png")
    random_photo(1200, 900, seed=2).save(folder / "sub" / "large.jpg")  # over 512 px: upsampled coefficients
    rgba = random_photo(20, 16, seed=3).convert("RGBA")
    rgba.putalpha(128)
    rgba.save(folder / "alpha.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated")
    args = [folder, "-o", out, "--photo-style", two_regions["reference"]]
    assert run(*args) == 1
    err = capsys.readouterr().err
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "corrupt.jpg" in failed[0]
    assert "stylized 3, skipped 0 existing, failed 1" in err
    assert "img/s, photo look (sliced)); outputs in" in err  # no style net ran: the line said "... net"
    assert Image.open(out / "odd.png").size == (37, 29)
    assert Image.open(out / "sub" / "large.jpg").size == (1200, 900)
    assert Image.open(out / "alpha.png").mode == "RGBA"  # the alpha channel is carried over
    assert not list(out.rglob("*.part"))
    before = (out / "odd.png").stat().st_mtime_ns
    assert run(*args) == 1
    assert "stylized 0, skipped 3 existing, failed 1" in capsys.readouterr().err
    assert (out / "odd.png").stat().st_mtime_ns == before  # nothing overwritten


def test_mask_folder_pairs_masks_by_stem_and_a_missing_one_fails_only_its_photo(
    tmp_path: Path, two_regions: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    folder, masks, out = tmp_path / "photos", tmp_path / "masks", tmp_path / "out"
    folder.mkdir()
    masks.mkdir()
    Image.open(two_regions["photo"]).save(folder / "a.jpg")
    Image.open(two_regions["photo"]).save(folder / "b.jpg")
    Image.open(two_regions["photo_mask"]).save(masks / "a.png")  # b has none
    args = [folder, "-o", out, "--photo-style", two_regions["reference"], "--format", "png"]
    assert run(*args, "--masks", masks, two_regions["reference_mask"]) == 1
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "b.jpg: no mask named b.* in" in failed[0]
    result = pixels(out / "a.png")
    assert np.abs(result[:, 4:28].mean((0, 1)) - RED).max() < 30
    assert not (out / "b.png").exists()


def test_a_mask_of_another_photo_is_refused_by_name(
    tmp_path: Path, two_regions: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    wrong = tmp_path / "wrong.png"
    Image.new("RGB", (64, 20), "white").save(wrong)  # 64x20 for a 64x48 photo
    args = [two_regions["photo"], "-o", tmp_path / "out", "--photo-style", two_regions["reference"]]
    assert run(*args, "--masks", wrong, two_regions["reference_mask"]) == 1
    failed = [line for line in capsys.readouterr().err.splitlines() if line.startswith("failed: ")]
    assert len(failed) == 1 and "wrong.png: mask is 64x20" in failed[0]


def test_the_one_file_call_for_the_web_service(tmp_path: Path, two_regions: dict[str, Path]) -> None:
    from fst.io.images import ImageReadError
    from fst.photo.files import photo_look_file

    progress: list[float] = []
    target = tmp_path / "out" / "look.jpg"
    target.parent.mkdir()
    masks = (two_regions["photo_mask"], two_regions["reference_mask"])
    photo_look_file(two_regions["photo"], two_regions["reference"], target, masks, progress.append)
    assert progress == sorted(progress) and progress[-1] == 1.0
    result = pixels(target)
    assert np.abs(result[:, 4:28].mean((0, 1)) - RED).max() < 30
    bad = tmp_path / "bad.png"
    bad.write_bytes(b"not an image")
    with pytest.raises(ImageReadError, match=r"bad\.png"):
        photo_look_file(two_regions["photo"], bad, tmp_path / "out" / "other.jpg")
    assert not (tmp_path / "out" / "other.jpg").exists()


def test_the_style_net_pipeline_sends_photo_style_runs_to_fst_photo(
    tmp_path: Path, two_regions: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    from fst.stylize.options import StylizeOptions
    from fst.stylize.pipeline import run as run_pipeline

    options = StylizeOptions.create(str(two_regions["photo"]), tmp_path / "out", photo_style=two_regions["reference"])
    assert run_pipeline(options) == 2
    assert "fst.photo.job.run" in capsys.readouterr().err
    from fst.photo.job import run as run_photo_look

    assert run_photo_look(options) == 0 and (tmp_path / "out" / "photo.png").is_file()
