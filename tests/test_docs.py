"""The documentation: the README stays a first page, its links resolve, and the docs site builds."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def test_the_readme_is_a_first_page() -> None:
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 250
    assert any("bash scripts/demo.sh" in line for line in lines[:30])  # the two commands come first
    assert any("bash scripts/test.sh" in line for line in lines[:30])


@pytest.mark.parametrize("page", ["README.md", *sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))])
def test_relative_links_resolve(page: str) -> None:
    source = ROOT / page
    broken = [
        target
        for target in LINK.findall(source.read_text())
        if "://" not in target and not target.startswith("mailto:") and not (source.parent / target).exists()
    ]
    assert not broken, f"{page} links to missing files: {broken}"


@pytest.mark.skipif(
    shutil.which("mkdocs") is None and not (Path(sys.executable).parent / "mkdocs").exists(),
    reason="mkdocs is not installed (pip install -e '.[dev]')",
)
def test_the_docs_site_builds_strictly(tmp_path: Path) -> None:
    # --strict turns mkdocs' warnings (a broken link or anchor between pages) into a failure.
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path / "site")],
        cwd=ROOT, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert (tmp_path / "site" / "architecture" / "index.html").is_file()
