"""The commands' plumbing: `python -m fst`, a user's own Hydra config dir, `fst-serve` without its extras."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fst import __main__ as dispatch
from fst.cli import serve

REPO = Path(__file__).resolve().parents[1]


def test_python_m_fst_without_a_command_prints_usage(capsys: pytest.CaptureFixture[str]) -> None:
    assert dispatch.main([]) == 2
    assert "stylize,train,optimize,serve" in capsys.readouterr().err
    assert dispatch.main(["--help"]) == 0
    assert "usage: python -m fst" in capsys.readouterr().out
    assert dispatch.main(["paint"]) == 2


def test_python_m_fst_runs_the_command_module() -> None:
    # A fresh process, as a user runs it (in this one the command's module may be imported already,
    # which runpy warns about).
    command = [sys.executable, "-m", "fst", "stylize", "--list-styles"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "udnie" in result.stdout
    assert "Warning" not in result.stderr


def test_a_user_config_dir_joins_the_packaged_groups(tmp_path: Path) -> None:
    (tmp_path / "experiment").mkdir()
    (tmp_path / "experiment" / "mine.yaml").write_text("# @package _global_\nstyle: my_painting\n")
    command = [sys.executable, "train.py", "--config-dir", str(tmp_path), "experiment=mine", "--cfg", "job"]
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    assert "style: my_painting\n" in result.stdout
    assert "_target_: fst.models.transformer.TransformerNet" in result.stdout  # the package's groups too


def test_fst_serve_without_the_web_extra_says_how_to_get_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for module in ("fst.web.cli", "fst.web.settings"):  # imported again, now without the extra
        monkeypatch.delitem(sys.modules, module, raising=False)
    monkeypatch.setitem(sys.modules, "pydantic_settings", None)  # the web settings need it: now ModuleNotFoundError
    assert serve.main(["--help"]) == 2
    assert "pip install 'fst[web]'" in capsys.readouterr().err


# What the one-photo path must never import: training, configs, the web layer, VGG's torchvision.
NOT_ON_THE_STYLIZE_PATH = ("hydra", "omegaconf", "lightning", "torchvision", "fst.web", "fst.losses", "scipy", "onnx")


def modules_after(code: str) -> set[str]:
    """The top-level and fst module names a fresh interpreter holds after running `code`."""
    report = "import sys; print(' '.join(sys.modules))"
    result = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr
    return set(result.stdout.splitlines()[-1].split())  # the last line: the report


def loaded(modules: set[str], name: str) -> bool:
    return any(module == name or module.startswith(f"{name}.") for module in modules)


def test_importing_fst_stylize_pulls_in_no_training_nor_web_code() -> None:
    modules = modules_after("import fst.cli.stylize")
    assert loaded(modules, "fst.stylize")  # the report really lists the modules
    assert [name for name in NOT_ON_THE_STYLIZE_PATH if loaded(modules, name)] == []


def test_stylize_help_imports_neither_torch_nor_the_pipeline() -> None:
    # A module count, not a time: `--help` answered before torch (~1,200 modules, 1.5-2 s) loads.
    modules = modules_after(
        "from fst.cli.stylize import main\ntry:\n    main(['--help'])\nexcept SystemExit:\n    pass"
    )
    assert loaded(modules, "fst.stylize.options")
    assert not loaded(modules, "torch") and not loaded(modules, "fst.stylize.pipeline")
    assert len(modules) < 300


def test_stylizing_one_photo_pulls_in_no_training_nor_web_code(tmp_path: Path) -> None:
    from tests.conftest import random_photo

    random_photo(40, 32).save(tmp_path / "photo.jpg")
    out = tmp_path / "out"
    argv = [str(tmp_path / "photo.jpg"), "-o", str(out), "--no-progress"]
    code = f"from fst.cli.stylize import main\nassert main({argv!r}) == 0"
    modules = modules_after(code)
    assert loaded(modules, "torch") and (out / "photo.jpg").is_file()  # it really stylized
    assert [name for name in NOT_ON_THE_STYLIZE_PATH if loaded(modules, name)] == []
