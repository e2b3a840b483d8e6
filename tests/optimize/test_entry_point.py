"""optimize.py: bad inputs are one line on stderr and exit status 2."""

import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize(
    "override,message",
    [
        ("run.content=/missing/photo.jpg", "/missing/photo.jpg: no such file"),
        ("paths.vgg_weights=/missing/v.st", "VGG weights file not found"),
    ],
)
def test_bad_input_is_one_line(override: str, message: str) -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "optimize.py"), override, "run.iterations=1", "run.image_size=32"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 2
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and message in errors[0]
    assert "Traceback" not in result.stderr
