import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file

from fst import resources
from fst.checkpoint import INT8_MIN_ELEMENTS, CheckpointError, export, load_net, read_metadata
from fst.models.transformer import TransformerNet


def test_export_then_load_gives_identical_outputs(tmp_path: Path) -> None:
    net = TransformerNet((8, 16, 32), 2, upsample="transpose", output_head="tanh").eval()
    path = export(net, tmp_path / "style.safetensors", {"style": {"name": "style"}, "steps": 7})
    loaded, metadata = load_net(path)
    x = torch.rand(1, 3, 21, 19)
    assert torch.equal(net(x), loaded(x))
    assert metadata["steps"] == 7 and metadata["architecture"] == net.architecture()
    assert "fst_version" in metadata
    assert [p.name for p in tmp_path.iterdir()] == ["style.safetensors"]  # no temp file left
    assert path.stat().st_mode & 0o777 == 0o644


def test_full_width_export_is_small(tmp_path: Path) -> None:
    path = export(TransformerNet(), tmp_path / "full.safetensors")
    assert path.stat().st_size < 8 * 2**20


def test_export_records_what_the_net_costs_per_megapixel(tmp_path: Path) -> None:
    """The full-width net is 323 GFLOP per 1024x1024 image, the figure issue 22 starts from; the
    space-to-depth student runs its outer stages at half size, well under a quarter of that."""
    full = read_metadata(export(TransformerNet(), tmp_path / "full.safetensors"))["gflop_per_mpx"]
    assert full * 1024 * 1024 / 1e6 == pytest.approx(323, rel=0.01)
    student = TransformerNet(channels=(32, 64), space_to_depth=True)
    assert read_metadata(export(student, tmp_path / "s2d.safetensors"))["gflop_per_mpx"] < full / 4


def test_int8_export_quarters_the_large_weights_and_loads_within_their_rounding(tmp_path: Path) -> None:
    net = TransformerNet((32, 64, 256), 2).eval()  # residual convolutions over INT8_MIN_ELEMENTS
    half = export(net, tmp_path / "half.safetensors", dtype=torch.float16)
    quarter = export(net, tmp_path / "quarter.safetensors", dtype=torch.int8)
    assert quarter.stat().st_size < 0.7 * half.stat().st_size
    loaded, metadata = load_net(quarter)
    assert metadata["dtype"] == "int8"
    original, restored = net.state_dict(), loaded.state_dict()
    assert original.keys() == restored.keys()  # the scales are folded back into their weights
    quantized = [k for k, v in original.items() if v.numel() >= INT8_MIN_ELEMENTS]
    assert quantized
    for key in quantized:
        step = original[key].abs().flatten(1).amax(1) / 127  # one int8 step per output channel
        error = (original[key] - restored[key]).abs().flatten(1).amax(1)
        assert (error <= 0.51 * step + 1e-3 * step.max()).all(), key
        assert not torch.equal(original[key], restored[key])


def test_the_shipped_adain_file_is_small_and_int8() -> None:
    path = resources.checkpoints_dir() / "adain.safetensors"
    assert path.stat().st_size < 8 * 2**20
    assert read_metadata(path)["dtype"] == "int8"


def test_file_without_metadata_is_one_line_error(tmp_path: Path) -> None:
    path = tmp_path / "plain.safetensors"
    save_file({"w": torch.zeros(2)}, str(path))
    with pytest.raises(CheckpointError, match="no fst metadata"):
        load_net(path)


def test_mismatched_weights_are_one_line_error(tmp_path: Path) -> None:
    path = export(TransformerNet((8, 16, 32), 2), tmp_path / "a.safetensors")
    metadata = read_metadata(path)
    metadata["architecture"]["num_residual_blocks"] = 3
    state = dict(__import__("safetensors.torch", fromlist=["load_file"]).load_file(str(path)))
    save_file(state, str(path), metadata={"fst": json.dumps(metadata)})
    with pytest.raises(CheckpointError) as error:
        load_net(path)
    assert "do not match" in str(error.value) and "\n" not in str(error.value)


def test_not_a_safetensors_file(tmp_path: Path) -> None:
    path = tmp_path / "junk.safetensors"
    path.write_bytes(b"junk" * 10)
    with pytest.raises(CheckpointError, match=r"junk\.safetensors"):
        load_net(path)


def test_every_shipped_file_is_small_and_has_its_model_card() -> None:
    shipped = sorted(resources.checkpoints_dir().glob("*.safetensors"))
    assert len(shipped) >= 3
    for path in shipped:
        assert path.stat().st_size < 30 * 2**20, path.name
        card = path.with_suffix(".md")
        assert card.is_file() and card.read_text().startswith(f"# Model card: {path.name}"), card.name
