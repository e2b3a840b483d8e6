import pytest
import torch

from fst import device
from fst.config import compose_config
from fst.device import resolve_device


def test_auto_is_cuda_only_when_present() -> None:
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert resolve_device("cpu") == torch.device("cpu")
    assert resolve_device("cuda:1") == torch.device("cuda", 1)


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({"avx2", "fma"}, "32-true"),  # AVX2-only EPYC: emulated bf16 was ~20x slower than fp32
        ({"avx2", "avx512f", "avx512_bf16"}, "bf16-mixed"),
        ({"avx2", "amx_bf16", "amx_tile"}, "bf16-mixed"),
    ],
)
def test_cpu_training_uses_bf16_only_where_the_cpu_has_it(
    flags: set[str], expected: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device, "cpu_info", lambda: ("some cpu", frozenset(flags)))
    assert device.training_precision("cpu") == expected
    assert device.resolve_precision("auto", torch.device("cpu")) == ("bf16" if expected == "bf16-mixed" else "fp32")


@pytest.mark.parametrize("schedule", ["cpu", "adain_cpu"])
def test_cpu_schedules_pick_their_precision_from_the_cpu(schedule: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(device, "cpu_info", lambda: ("avx2-only cpu", frozenset({"avx2"})))
    experiment = ["experiment=adain"] if schedule == "adain_cpu" else []
    cfg = compose_config("train", [*experiment, f"schedule={schedule}"])
    assert cfg.trainer.precision == "32-true"
