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


@pytest.mark.parametrize(
    ("flags", "isa"),
    [
        (set(), "none"),
        ({"sse4_2", "avx2", "fma"}, "avx2"),  # the AVX2-only EPYC
        ({"avx2", "avx512f", "avx512bw"}, "avx512"),
        ({"avx2", "avx512f", "avx512_bf16"}, "avx512_bf16"),  # Zen 4, Cooper Lake
        ({"avx2", "avx512f", "avx512_bf16", "amx_bf16", "amx_tile"}, "amx"),  # Sapphire Rapids
    ],
)
def test_cpu_isa_names_the_richest_matmul_instructions(
    flags: set[str], isa: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device, "cpu_info", lambda: ("some cpu", frozenset(flags)))
    assert device.cpu_isa() == isa
    assert device.cpu_isa(frozenset(flags)) == isa


@pytest.mark.parametrize(("flags", "precisions"), [({"avx2"}, ["fp32"]), ({"avx512_bf16"}, ["fp32", "bf16"])])
def test_matmul_peaks_measure_bf16_only_where_it_is_native(
    flags: set[str], precisions: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(device, "cpu_info", lambda: ("some cpu", frozenset(flags)))
    peaks = device.matmul_peaks(side=64)
    assert list(peaks) == precisions and all(flops > 0 for flops in peaks.values())
    line = device.cpu_line(peaks, side=64)
    assert line.startswith("CPU: some cpu; ISA ") and "64^3 matmul peak GFLOP/s: fp32 " in line
    assert ("bf16" in line.split("GFLOP/s:")[1]) == ("bf16" in precisions)


def test_intra_op_threads_restores_the_count_even_on_error() -> None:
    before = torch.get_num_threads()
    with pytest.raises(KeyError), device.intra_op_threads(1):
        assert torch.get_num_threads() == 1
        raise KeyError("a failed load")
    assert torch.get_num_threads() == before
