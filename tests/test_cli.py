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


def test_python_m_fst_runs_the_command_module(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        dispatch.main(["stylize", "--list-styles"])
    assert exited.value.code == 0
    assert "udnie" in capsys.readouterr().out


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
