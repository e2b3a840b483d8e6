"""Every script and benchmark answers `--help`, and the cheap ones do a tiny real run.

No tiny run, and why:

- `scripts/distill_gap.py`: stylizes photos with a student and its teacher at their own size and
  compares them in VGG-19, minutes.
- `scripts/judge_styles.py`, `scripts/judge_adain.py`: their work is the external judge
  `../shared/tools/quality.py` (real VGG-19 on every photo and painting pair, outside the project),
  minutes per call.
- `benchmarks/adain_speed.py`, `benchmarks/stylize_job.py`, `benchmarks/stylize_net_modes.py`: each
  builds the compiled package (`fst.stylize.compiled`) before timing, minutes on a small CPU, and
  adain_speed also runs the peer tool. The last two do run `--cpu`, the CPU line they start with.
- `benchmarks/web_load.py`: its tiny run is `tests/web/test_load.py`.

The runs use this checkout's `fst` (PYTHONPATH), not whatever copy the interpreter has installed.
"""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import random_photo

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = sorted([*REPO.glob("scripts/*.py"), *REPO.glob("benchmarks/*.py")])


def run_script(script: str, *args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, str(REPO / script), *args], cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout
    )


def test_every_script_and_benchmark_is_covered() -> None:
    assert len(SCRIPTS) >= 11  # the globs really find them (9 scripts, 8 benchmarks today)


@pytest.mark.parametrize("script", [str(path.relative_to(REPO)) for path in SCRIPTS])
def test_help(script: str) -> None:
    result = run_script(script, "--help", timeout=120)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("usage:")


@pytest.mark.parametrize("script", ["benchmarks/stylize_job.py", "benchmarks/stylize_net_modes.py"])
def test_benchmark_names_its_cpu_first(script: str) -> None:
    result = run_script(script, "--cpu", timeout=120)
    assert result.returncode == 0, result.stderr
    (line,) = result.stdout.splitlines()  # `--cpu`: the line the benchmark starts with, alone
    assert line.startswith("CPU: ") and "; ISA " in line and "matmul peak GFLOP/s: fp32 " in line


def test_contact_sheet(tmp_path: Path) -> None:
    photos, outputs = tmp_path / "photos", tmp_path / "outputs"
    for folder in (photos, outputs / "udnie", outputs / "the_scream"):
        folder.mkdir(parents=True)
        for seed, name in enumerate(("a.jpg", "b.jpg")):
            random_photo(40, 30, seed=seed).save(folder / name)
    sheet = tmp_path / "sheet.png"
    result = run_script("scripts/contact_sheet.py", str(photos), str(outputs), str(sheet), "--cell", "32")
    assert result.returncode == 0, result.stderr
    with Image.open(sheet) as image:
        assert image.width >= 3 * 32 and image.height >= 2 * 32  # photo + 2 styles, 2 rows


def test_contact_sheet_crop_shows_the_centre_at_one_to_one(tmp_path: Path) -> None:
    photos, outputs = tmp_path / "photos", tmp_path / "outputs"
    for folder in (photos, outputs / "teacher", outputs / "student"):
        folder.mkdir(parents=True)
    photo = random_photo(60, 44, seed=1)
    photo.save(photos / "a.png")
    photo.save(outputs / "teacher" / "a.png")
    sheet = tmp_path / "sheet.png"
    args = (str(photos), str(outputs), str(sheet), "--styles", "teacher", "student", "--crop", "20")
    result = run_script("scripts/contact_sheet.py", *args)
    assert result.returncode == 0, result.stderr
    with Image.open(sheet) as image:
        grid = image.convert("RGB")
    left, top = 110, 22  # fst.io.contact_sheet.label_grid's margins
    expected = photo.crop((20, 12, 40, 32))  # the centre 20 x 20 of the 60 x 44 photo, unscaled
    assert list(grid.crop((left, top, left + 20, top + 20)).getdata()) == list(expected.getdata())
    assert list(grid.crop((left + 20, top, left + 40, top + 20)).getdata()) == list(expected.getdata())
    assert set(grid.crop((left + 40, top, left + 60, top + 20)).getdata()) == {(255, 255, 255)}  # no student


def test_tb_summary(tmp_path: Path) -> None:
    import torch
    from torch.utils.tensorboard import SummaryWriter

    run_dir = tmp_path / "run"
    writer = SummaryWriter(str(run_dir / "tensorboard"))
    for step in range(4):
        writer.add_scalar("train/content", 10.0 / (step + 1), step)
        writer.add_scalar("train/style", 5.0 / (step + 1), step)
    writer.add_image("val/stylized", torch.rand(3, 16, 16), 3)
    writer.close()
    out = tmp_path / "summary"
    result = run_script("scripts/tb_summary.py", str(run_dir), "--out", str(out))
    assert result.returncode == 0, result.stderr
    assert "train/content" in result.stdout and "train/style" in result.stdout
    assert (out / "loss_curves.png").is_file() and list(out.glob("val_stylized_step*.png"))


def test_photo_style_grid(tmp_path: Path, assets: Path) -> None:
    output = tmp_path / "grid.png"
    args = ["--pairs", "1", "--image-size", "32", "--iterations", "1", "--photorealism-weights", "0"]
    result = run_script("scripts/photo_style_grid.py", *args, "--output", str(output), "loss.vgg.weights=random")
    assert result.returncode == 0, result.stderr
    assert output.is_file() and (tmp_path / "grid" / "in1_pr0.png").is_file()


def test_judge_photo_style_and_its_sheet(tmp_path: Path, assets: Path) -> None:
    judge = assets.parent / "tools" / "photo_judge.py"
    if not judge.is_file():
        pytest.skip(f"the photo judge is absent ({judge})")
    common = ["--assets", str(assets / "photo_style"), "--pairs", "1"]
    result = run_script("scripts/judge_photo_style.py", *common, "--methods", "sliced", "--judge", str(judge),
                        "--out", str(tmp_path / "judged"))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert "| sliced | 1 |" in result.stdout and "| sliced-masks | 1 |" in result.stdout
    assert (tmp_path / "judged" / "sliced-masks" / "in1.png").is_file()
    sheet = tmp_path / "sheet.jpg"
    result = run_script("scripts/photo_style_sheet.py", *common, "--cell", "64", "--out", str(sheet))
    assert result.returncode == 0, result.stderr
    with Image.open(sheet) as image:
        assert image.width >= 5 * 64 and image.height >= 64  # photo, reference, Reinhard, fst, fst + masks


def test_stylize_tiled_psnr(tmp_path: Path) -> None:
    photo = tmp_path / "photo.jpg"
    random_photo(96, 64).save(photo)
    args = ["--image", str(photo), "--size", "96", "64", "--tile-size", "64", "--overlap", "16"]
    result = run_script("benchmarks/stylize_tiled_psnr.py", *args, "--precisions", "fp32", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "tiled vs untiled PSNR" in result.stdout
    assert (tmp_path / "tiled_fp32.png").is_file() and (tmp_path / "untiled_fp32.png").is_file()


def test_train_speed(tmp_path: Path, photo_folder: Path) -> None:
    style = tmp_path / "style.jpg"
    random_photo(48, 48, seed=9).save(style)
    overrides = [
        f"paths.train_dir={photo_folder}",
        f"style_image={style}",
        "style=tiny",
        "trainer=cpu",
        "loss.vgg.weights=random",
        "model.channels=[8,16,32]",
        "model.num_residual_blocks=1",
        "data.num_workers=0",
    ]
    args = ["--batch-size", "2", "--image-size", "32", "--compile", "off", "--steps", "1", "--warmup", "1"]
    result = run_script("benchmarks/train_speed.py", *args, *overrides)
    assert result.returncode == 0, result.stderr
    assert "| 2 | eager |" in result.stdout


@pytest.mark.slow
def test_stylize_ray() -> None:
    pytest.importorskip("ray", reason="Ray is not installed: pip install -e '.[ray]'")
    args = ["--count", "2", "--size", "64", "--repeats", "1", "--flags=--compile off"]
    result = run_script("benchmarks/stylize_ray.py", *args)
    assert result.returncode == 0, result.stderr
    assert "| ray |" in result.stdout and "Ray start-up" in result.stdout
    assert "inf dB" in result.stdout  # the same images as the local engine


def test_photo_judge_rows_name_their_pair(tmp_path: Path) -> None:
    # The Reinhard rows of pairs.csv were numbered 0, 1, ... (their index), the others by pair.
    judge = REPO.parent / "shared" / "tools" / "photo_judge.py"
    assets = Path(os.environ.get("FST_ASSETS", REPO.parent / "shared" / "assets")) / "photo_style"
    if not judge.is_file() or not assets.is_dir():
        pytest.skip("the shared photo judge or Luan's pairs are absent")
    args = ["--pairs", "2-3", "--methods", "sliced", "--masks", "no", "--out", str(tmp_path), "--judge", str(judge)]
    result = run_script("scripts/judge_photo_style.py", *args, "--assets", str(assets))
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader((tmp_path / "pairs.csv").open()))
    assert {(row["method"], row["pair"]) for row in rows} == {
        (method, pair) for method in ("reinhard (judge)", "sliced") for pair in ("2", "3")
    }


def test_region_colour_is_measured_region_by_region() -> None:
    # The whole-image colour_ratio cannot tell regions that took their own region's colours from
    # regions that took each other's: region_colour must (0 when each region matches, 1 for the photo).
    import importlib.util

    import torch

    from fst.optimize.masks import RegionMasks

    judge_path = REPO.parent / "shared" / "tools" / "photo_judge.py"
    if not judge_path.is_file():
        pytest.skip("the shared photo judge is absent")
    modules = {}
    for name, path in (("judge", judge_path), ("script", REPO / "scripts" / "judge_photo_style.py")):
        spec = importlib.util.spec_from_file_location(f"_{name}", path)
        modules[name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(modules[name])
    judge, region_colour = modules["judge"], modules["script"].region_colour

    def halves(left: tuple[float, ...], right: tuple[float, ...]) -> torch.Tensor:
        image = torch.empty(3, 32, 64)
        image[:, :, :32] = torch.tensor(left).view(3, 1, 1)
        image[:, :, 32:] = torch.tensor(right).view(3, 1, 1)
        return image + 0.02 * torch.rand(3, 32, 64, generator=torch.Generator().manual_seed(0))

    red, green, blue, yellow = (0.8, 0.1, 0.1), (0.1, 0.7, 0.1), (0.1, 0.1, 0.8), (0.9, 0.85, 0.1)
    photo, reference = halves(red, green), halves(blue, yellow)
    left = torch.zeros(1, 1, 32, 64)
    left[..., :32] = 1
    regions = RegionMasks(
        colors=[(0, 0, 255), (0, 255, 0)], content=torch.cat([left, 1 - left]), style=torch.cat([left, 1 - left])
    )
    ref_lab = judge.to_lab(reference)
    matched = region_colour(judge, halves(blue, yellow), photo, ref_lab, regions)
    swapped = region_colour(judge, halves(yellow, blue), photo, ref_lab, regions)
    assert matched < 0.1
    assert abs(region_colour(judge, photo, photo, ref_lab, regions) - 1.0) < 1e-6
    assert swapped > 0.5  # the whole-image distribution is the same as matched's, the regions are not
    whole = [judge.swd(judge.to_lab(image), ref_lab) for image in (halves(blue, yellow), halves(yellow, blue), photo)]
    assert max(whole[:2]) < 0.05 * whole[2]  # the whole image's measure sees both as the reference
