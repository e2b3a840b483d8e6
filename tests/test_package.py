"""The installed package: a wheel built from this tree, installed into a fresh venv (not editable),
runs its console scripts from an empty folder outside the checkout.

The venv borrows the dev environment's third-party packages through a `.pth` line (torch is too big
to install per test, and installs must stay offline), but `fst` itself and the console scripts come
only from the wheel: the commands run with the temp folder as cwd and without PYTHONPATH, and the
test checks which `fst` they import.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest
from PIL import Image

from tests.conftest import random_photo

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


def run(command: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("build")
    source = root / "source"
    # Offline: --no-build-isolation uses the dev env's setuptools (the dev extra pins >=77).
    # Build from a copy of what a wheel is made of: an in-tree build would leave build/ and
    # fst.egg-info in the checkout.
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, source)
    shutil.copytree(REPO / "fst", source / "fst", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    command = [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-q"]
    result = subprocess.run([*command, "-w", str(root / "dist")], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    (built,) = (root / "dist").glob("fst-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with the wheel installed; returns its bin folder."""
    home = tmp_path_factory.mktemp("venv") / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(home)], check=True, timeout=120)
    python = home / "bin" / "python"
    install = [sys.executable, "-m", "pip", "--python", str(python), "install", "-q", "--no-deps", "--no-index"]
    result = subprocess.run([*install, str(wheel)], capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stderr
    # Third-party packages (torch, lightning, hydra, ...) from the dev environment. A plain path line
    # in a .pth does not run that folder's own .pth files, so the dev env's editable fst stays out.
    purelib = run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"], home, {})
    (Path(purelib.stdout.strip()) / "dev_env.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return home / "bin"


@pytest.fixture
def clean_env(venv: Path, tmp_path: Path) -> dict[str, str]:
    """No PYTHONPATH, no FST_* settings: only what a user's shell would have."""
    return {"PATH": f"{venv}:/usr/bin:/bin", "HOME": str(tmp_path / "home"), "LANG": "C.UTF-8"}


def test_the_wheel_carries_configs_styles_and_demo_photos(wheel: Path) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    for shipped in (
        "fst/conf/train.yaml",
        "fst/conf/optimize.yaml",
        "fst/conf/experiment/udnie.yaml",
        "fst/checkpoints/six_paintings.safetensors",
        "fst/checkpoints/six_paintings.md",
        "fst/checkpoints/six_paintings_s2d.safetensors",
        "fst/checkpoints/six_paintings_s2d.md",
        "fst/checkpoints/adain.safetensors",
        "fst/demo/chelsea.jpg",
        "fst/demo/README.md",
        "fst/web/templates/base.html",
    ):
        assert shipped in names, shipped
    entry_points = zipfile.ZipFile(wheel).read(next(n for n in names if n.endswith("entry_points.txt"))).decode()
    for script in ("fst-stylize", "fst-train", "fst-optimize", "fst-serve"):
        assert script in entry_points


def test_installed_fst_is_the_wheel_not_the_checkout(venv: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run([str(venv / "python"), "-c", "import fst; print(fst.__file__)"], tmp_path, clean_env)
    assert result.returncode == 0, result.stderr
    installed = Path(result.stdout.strip())
    assert installed.is_relative_to(venv.parent) and not installed.is_relative_to(REPO)


def test_fst_stylize_from_an_empty_folder(venv: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    work = tmp_path / "empty"
    work.mkdir()
    random_photo(96, 64).save(work / "photo.jpg", quality=90)
    command = [str(venv / "fst-stylize"), "photo.jpg", "-o", "out", "--style", "udnie", "--no-progress"]
    result = run(command, work, clean_env)
    assert result.returncode == 0, result.stderr
    with Image.open(work / "out" / "photo.jpg") as stylized:
        stylized.load()  # a complete, decodable image
        assert stylized.size == (96, 64)
    assert len(set(stylized.convert("RGB").getdata())) > 1  # not a blank image


def test_fst_train_composes_the_packaged_configs(venv: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run([str(venv / "fst-train"), "experiment=udnie", "--cfg", "job"], tmp_path, clean_env)
    assert result.returncode == 0, result.stderr
    assert "style: udnie" in result.stdout
    assert "_target_: fst.training.style_module.StyleTransferModule" in result.stdout
    # No assets anywhere: the path names the setting to make, not a folder of the checkout.
    resolved = run([str(venv / "fst-train"), "--cfg", "job", "--resolve"], tmp_path, clean_env)
    assert resolved.returncode == 0, resolved.stderr
    assert "assets: $FST_ASSETS" in resolved.stdout and str(REPO) not in resolved.stdout


@pytest.mark.parametrize("command", ["fst-train", "fst-optimize", "fst-stylize", "fst-serve"])
def test_console_script_help(command: str, venv: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run([str(venv / command), "--help"], tmp_path, clean_env)
    assert result.returncode == 0, result.stderr
    assert "usage" in result.stdout.lower() or "== Config ==" in result.stdout  # argparse or Hydra's help


def test_python_m_fst_dispatches(venv: Path, clean_env: dict[str, str], tmp_path: Path) -> None:
    result = run([str(venv / "python"), "-m", "fst", "stylize", "--list-styles"], tmp_path, clean_env)
    assert result.returncode == 0, result.stderr
    assert {line.split()[0] for line in result.stdout.splitlines()} >= {"udnie", "starry_night"}
