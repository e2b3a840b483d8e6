"""Choosing and mixing styles: multi-style files, `--style`, `--list-styles` (fst.zoo)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from safetensors.torch import load_file, save_file

from fst import zoo
from fst.checkpoint import METADATA_KEY, cost_of, export, read_metadata
from fst.models.multistyle import MultiStyleNet
from fst.resources import demo_dir
from fst.stylize import inputs
from fst.stylize.pipeline import StylizeOptions, run

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def multi_checkpoint(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    net = MultiStyleNet(["ink", "fire"], channels=(8, 16, 32), num_residual_blocks=1).eval()
    with torch.no_grad():
        for norm in net.norms:
            norm.weight.copy_(1 + torch.randn_like(norm.weight))
            norm.bias.copy_(0.3 * torch.randn_like(norm.bias))
    styles = [{"name": name, "file": f"{name}.jpg", "sha256": "0" * 64} for name in net.style_names]
    return export(net, tmp_path / "ckpt" / "duo.safetensors", {"styles": styles})


@pytest.fixture
def photo(tmp_path: Path) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    Image.fromarray(rng.integers(0, 256, (40, 52, 3), dtype=np.uint8)).save(folder / "p.png")
    return folder


def stylized(folder: Path) -> np.ndarray:
    return np.asarray(Image.open(folder / "p.png"), dtype=np.float32)


def test_a_multi_style_file_runs_each_of_its_styles(tmp_path: Path, photo: Path, multi_checkpoint: Path) -> None:
    out = tmp_path / "out"
    assert run(StylizeOptions.create(str(photo), out, [multi_checkpoint], compile="off", progress=False)) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fire", "ink"]
    assert np.abs(stylized(out / "fire") - stylized(out / "ink")).max() > 10


def test_a_mix_lies_between_its_styles_and_a_pure_mix_is_the_style(
    tmp_path: Path, photo: Path, multi_checkpoint: Path
) -> None:
    out = tmp_path / "out"
    specs = ["ink", "fire", "ink=0.5,fire=0.5", "ink=1,fire=0"]
    options = StylizeOptions.create(str(photo), out, [multi_checkpoint], styles=specs, compile="off", progress=False)
    assert run(options) == 0
    assert sorted(p.name for p in out.iterdir()) == ["fire", "ink", "ink-100+fire-0", "ink-50+fire-50"]
    ink, fire, half = (stylized(out / name) for name in ("ink", "fire", "ink-50+fire-50"))
    assert np.array_equal(stylized(out / "ink-100+fire-0"), ink)
    assert np.abs(half - ink).mean() > 2 and np.abs(half - fire).mean() > 2  # neither style alone


def test_unknown_style_or_a_mix_across_files_is_one_line_and_exit_2(
    tmp_path: Path, photo: Path, multi_checkpoint: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture
) -> None:
    for specs, message in ((["nope"], "unknown style 'nope'"), (["ink=0.5,tiny=0.5"], "not all in one file")):
        options = StylizeOptions.create(
            str(photo), tmp_path / "out", [multi_checkpoint, tiny_checkpoint], styles=specs, progress=False
        )
        assert run(options) == 2
        errors = [line for line in capsys.readouterr().err.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and message in errors[0], errors
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("spec", ["a=x", "a=-1", "=2", "a=0"])
def test_bad_mix_specs_are_named(spec: str) -> None:
    with pytest.raises(ValueError, match="style '"):
        zoo.parse_mix(spec)


def test_single_style_files_win_for_one_name_and_multi_files_hold_mixes(multi_checkpoint: Path, tmp_path: Path) -> None:
    torch.manual_seed(1)
    single = export(
        MultiStyleNet(["ink"], channels=(8, 16, 32), num_residual_blocks=1).blend({"ink": 1}),
        tmp_path / "ckpt" / "ink_alone.safetensors",
        {"style": {"name": "ink"}},
    )
    styles = zoo.shipped_styles(tmp_path / "ckpt")
    assert [(s.name, s.path.name, s.styles_in_file) for s in styles] == [
        ("ink", "ink_alone.safetensors", 1),
        ("fire", "duo.safetensors", 2),
        ("ink", "duo.safetensors", 2),
    ]
    assert zoo.find_style_file({"ink": 1.0}, styles) == single
    assert zoo.find_style_file({"ink": 0.5, "fire": 0.5}, styles) == multi_checkpoint


def test_of_two_files_holding_a_style_the_cheaper_net_runs_it(multi_checkpoint: Path, tmp_path: Path) -> None:
    """A distilled student shipped beside its full-width teacher holds the same styles: `--style`
    and the site must pick the student, and a file that predates the cost field comes last."""
    folder = tmp_path / "ckpt"
    torch.manual_seed(2)
    student = export(
        MultiStyleNet(["ink", "fire", "ash"], channels=(8, 16), num_residual_blocks=1, space_to_depth=True),
        folder / "zz_student.safetensors",
    )
    assert cost_of(student) < cost_of(multi_checkpoint) / 2
    styles = zoo.shipped_styles(folder)
    assert [(s.name, s.path.name) for s in styles if s.name == "ink"] == [
        ("ink", "zz_student.safetensors"),
        ("ink", "duo.safetensors"),
    ]
    assert zoo.find_style_file({"ink": 1.0}, styles) == student
    assert zoo.find_style_file({"ink": 0.5, "fire": 0.5}, styles) == student
    assert zoo.find_style_file({"ash": 1.0}, styles) == student
    # A file without the field (exported before it existed) is taken only when nothing else holds the style.
    old = folder / "zz_student.safetensors"
    metadata = read_metadata(old)
    del metadata["gflop_per_mpx"]
    tensors = load_file(old)
    save_file(tensors, old, metadata={METADATA_KEY: json.dumps(metadata)})
    assert zoo.find_style_file({"ink": 1.0}, zoo.shipped_styles(folder)) == multi_checkpoint


def test_list_styles_prints_every_shipped_style_with_its_file() -> None:
    result = subprocess.run(
        [sys.executable, str(REPO / "stylize.py"), "--list-styles"], capture_output=True, text=True, check=True
    )
    lines = result.stdout.splitlines()
    shipped = {s.name for s in zoo.shipped_styles()}
    assert shipped and {line.split()[0] for line in lines} == shipped
    assert all("checkpoints/" in line and line.split()[1].endswith(".safetensors") for line in lines)
    # Where two files hold a style, the list says which one `--style NAME` runs: exactly one per name.
    runs = [line.split()[0] for line in lines if line.endswith("--style runs it)")]
    assert sorted(runs) == sorted(shipped)
    for name in shipped:
        (line,) = [line for line in lines if line.split()[0] == name and line.endswith("--style runs it)")]
        assert Path(line.split()[1]).name == zoo.find_style_file({name: 1.0}, zoo.shipped_styles()).name


def test_the_demo_runs_the_shipped_style_starry_night_into_outputs_demo_itself() -> None:
    from fst.cli import stylize  # what stylize.py and fst-stylize run

    options = stylize.parse_args([])
    assert (options.inputs, options.out_dir, options.style.checkpoints) == (str(demo_dir()), Path("outputs/demo"), [])
    # By name: a shipped file holds it.
    ((path, mix),) = zoo.plan_styles(options.style.checkpoints, options.style.styles)
    assert mix == {"starry_night": 1.0} and path.parent == zoo.CHECKPOINT_DIR
    jobs = inputs.plan_jobs(Path(options.inputs), REPO / options.out_dir, list(mix))
    assert jobs and all(job.target.parent == REPO / options.out_dir for job in jobs)  # one style: no subfolder
