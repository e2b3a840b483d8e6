"""Compiled packages: one per architecture, precision and machine, any size, any style's weights."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from fst.models.adain import AdaINModel
from fst.models.transformer import TransformerNet
from fst.stylize import compiled
from fst.stylize.arbitrary import StyledAdaIN
from tests.conftest import tiny_adain

CPU = torch.device("cpu")


@pytest.fixture(autouse=True)
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("FST_CACHE_DIR", str(tmp_path / "cache"))
    return tmp_path / "cache"


def test_package_key_changes_with_what_invalidates_compiled_code(monkeypatch: pytest.MonkeyPatch) -> None:
    net = TransformerNet((8, 16, 32), 1)
    path = compiled.package_path(net, "bf16", CPU)
    assert path == compiled.package_path(TransformerNet((8, 16, 32), 1), "bf16", CPU)
    assert path != compiled.package_path(TransformerNet((8, 16, 32), 2), "bf16", CPU)
    assert path != compiled.package_path(net, "fp32", CPU)
    monkeypatch.setattr(compiled, "machine_tag", lambda device: "another CPU")
    assert path != compiled.package_path(net, "bf16", CPU)
    monkeypatch.undo()
    monkeypatch.setattr(torch, "__version__", "9.9.9")
    assert path != compiled.package_path(net, "bf16", CPU)


def test_nothing_is_built_unless_allowed(cache: Path) -> None:
    assert compiled.load(TransformerNet((8, 16, 32), 1), "fp32", CPU, build_if_missing=False) is None
    assert not list(cache.glob("*.pt2"))


@pytest.mark.slow
def test_one_package_serves_every_size_and_every_style(cache: Path) -> None:
    torch.manual_seed(0)
    first, second = (TransformerNet((8, 16, 32), 1).eval() for _ in range(2))
    package = compiled.load(first, "fp32", CPU, build_if_missing=True)
    assert package is not None and len(list(cache.glob("*.pt2"))) == 1
    for shape in [(2, 3, 36, 52), (1, 3, 8, 8), (1, 3, 96, 64)]:  # padded sizes: multiples of 4
        image = torch.rand(shape)
        with torch.no_grad():
            torch.testing.assert_close(package(image), first(image), atol=1e-4, rtol=0)
    # The second style's weights in the same package: its own output, nothing rebuilt.
    other = compiled.load(second, "fp32", CPU, build_if_missing=False)
    image = torch.rand(1, 3, 40, 44)
    with torch.no_grad():
        torch.testing.assert_close(other(image), second(image), atol=1e-4, rtol=0)
        assert not torch.allclose(other(image), first(image), atol=1e-3)


@pytest.mark.slow
def test_a_damaged_package_is_rebuilt(cache: Path) -> None:
    net = TransformerNet((8, 16, 32), 1).eval()
    path = compiled.package_path(net, "fp32", CPU)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"truncated by a crash")
    assert compiled.load(net, "fp32", CPU, build_if_missing=False) is None  # not allowed: eager instead
    package = compiled.load(net, "fp32", CPU, build_if_missing=True)
    assert package is not None and path.stat().st_size > 1000


def test_a_machine_that_cannot_compile_runs_the_eager_net(cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def no_compiler(*args: object) -> None:
        raise RuntimeError("g++: command not found")

    monkeypatch.setattr(compiled, "build", no_compiler)
    assert compiled.load(TransformerNet((8, 16, 32), 1), "fp32", CPU, build_if_missing=True) is None
    assert not list(cache.glob("*.pt2"))


def styled_adain(seed: int, alpha: float = 1.0, model: AdaINModel | None = None) -> StyledAdaIN:
    model = model or tiny_adain(seed)  # random weights alone decode to a near-constant image
    torch.manual_seed(seed)
    with torch.no_grad():
        style = model.style_stats(torch.rand(1, 3, 40, 32))
    return StyledAdaIN(model, style, alpha)


def test_adain_and_style_nets_get_their_own_packages() -> None:
    adain = styled_adain(0)
    assert compiled.package_path(adain, "bf16", CPU).name.startswith("styledadain-")
    assert compiled.package_path(adain, "bf16", CPU) != compiled.package_path(TransformerNet(), "bf16", CPU)
    # Another style image or alpha is loaded into the same package: the key must not change.
    assert compiled.package_path(styled_adain(1, alpha=0.5), "bf16", CPU) == compiled.package_path(adain, "bf16", CPU)


@pytest.mark.slow
def test_one_adain_package_serves_every_size_style_and_alpha(cache: Path) -> None:
    first = styled_adain(0, alpha=0.8)
    package = compiled.load(first, "fp32", CPU, build_if_missing=True)
    assert package is not None
    for shape in [(2, 3, 40, 56), (1, 3, 32, 32), (1, 3, 72, 48)]:  # padded sizes: multiples of 8
        image = torch.rand(shape)
        with torch.no_grad():
            torch.testing.assert_close(package(image), first(image), atol=1e-4, rtol=0)
    # The same weights with another style and alpha: loaded into the package, nothing rebuilt.
    # (A one-element alpha buffer was once inlined at build time: every alpha ran as 0.8.)
    image = torch.rand(1, 3, 48, 40)
    for alpha in (0.0, 0.4, 1.0):
        other = styled_adain(1, alpha, model=first.model)
        loaded = compiled.load(other, "fp32", CPU, build_if_missing=False)
        assert loaded is not None and len(list(cache.glob("*.pt2"))) == 1
        with torch.no_grad():
            torch.testing.assert_close(loaded(image), other(image), atol=1e-4, rtol=0)
            assert not torch.allclose(loaded(image), first(image), atol=1e-3)


def test_cpu_description_is_read_once() -> None:
    from fst.device import cpu_info

    assert cpu_info() is cpu_info()  # cached: the cache key is computed per style and per check
    assert compiled.machine_tag(CPU) == compiled.machine_tag(CPU)


@pytest.mark.slow
def test_wct_mix_gets_its_own_package_that_serves_every_style_and_share(cache: Path) -> None:
    from fst.models.wct import style_colouring

    model = tiny_adain(0)

    def styled(seed: int, share: float) -> StyledAdaIN:
        torch.manual_seed(seed)
        with torch.no_grad():
            style = style_colouring(model.encode(torch.rand(1, 3, 40, 32))["relu4_1"])
        return StyledAdaIN(model, style, alpha=0.9, wct=share)

    first = styled(0, 0.5)
    assert compiled.package_path(first, "fp32", CPU) != compiled.package_path(styled_adain(0), "fp32", CPU)
    assert compiled.load(first, "fp32", CPU, build_if_missing=True) is not None
    image = torch.rand(1, 3, 48, 40)
    for other in [first, styled(1, 0.5), styled(1, 1.0), styled(2, 0.0)]:
        loaded = compiled.load(other, "fp32", CPU, build_if_missing=False)  # loaded, not rebuilt
        assert loaded is not None and len(list(cache.glob("*.pt2"))) == 1
        with torch.no_grad():
            torch.testing.assert_close(loaded(image), other(image), atol=1e-4, rtol=0)
    with torch.no_grad():
        assert not torch.allclose(styled(1, 1.0)(image), styled(1, 0.0)(image), atol=1e-3)
