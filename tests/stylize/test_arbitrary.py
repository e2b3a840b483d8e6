"""stylize.py --style-image: the AdaIN model through the batch job, tiling, bad inputs, ONNX."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

import stylize
from fst.checkpoint import export, load_adain
from fst.io.images import load_tensor
from fst.models.adain import BORDER, ChannelStats
from fst.models.wct import style_colouring
from fst.stylize import arbitrary
from fst.stylize.arbitrary import stylize_tiled
from fst.stylize.tiling import psnr
from tests.conftest import random_photo, tiny_adain


@pytest.fixture
def adain_file(tmp_path: Path) -> Path:
    return export(tiny_adain(seed=1), tmp_path / "model" / "adain.safetensors", {"name": "adain"})


@pytest.fixture
def styles(tmp_path: Path) -> list[Path]:
    paths = [tmp_path / "first.png", tmp_path / "second.jpg"]
    random_photo(48, 40, seed=5).save(paths[0])
    Image.fromarray(np.random.default_rng(6).integers(0, 256, (40, 56, 3), dtype=np.uint8)).save(paths[1])
    return paths


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    random_photo(37, 29, seed=1).save(folder / "odd.png")
    random_photo(160, 120, seed=2).save(folder / "large.png")
    (folder / "corrupt.jpg").write_bytes(b"\xff\xd8 truncated")
    return folder


def run(*args: str | Path) -> int:
    return stylize.main([str(a) for a in args] + ["--no-progress", "--precision", "fp32"])


def read(path: Path) -> torch.Tensor:
    return torch.from_numpy(np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255).permute(2, 0, 1)


def test_batch_job_any_size_tiles_bad_files_and_resume(
    tmp_path: Path, adain_file: Path, styles: list[Path], photos: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "out"
    # --max-pixels forces the 160x120 photo into 64 px tiles; the corrupt file is one line.
    args = [photos, "-o", out, "-c", adain_file, "--style-image", styles[0], "--max-pixels", "5000"]
    assert run(*args, "--tile-size", "64", "--overlap", "32") == 1
    stderr = capsys.readouterr().err
    assert sum(line.startswith("failed: ") for line in stderr.splitlines()) == 1 and "corrupt.jpg" in stderr
    assert Image.open(out / "odd.png").size == (37, 29)
    assert Image.open(out / "large.png").size == (160, 120)
    assert read(out / "large.png").std() > 0.01
    # A rerun skips what exists (resume) and writes nothing new.
    before = (out / "odd.png").stat().st_mtime_ns
    assert run(*args) == 1
    assert "skipped 2 existing" in capsys.readouterr().err
    assert (out / "odd.png").stat().st_mtime_ns == before


@pytest.mark.slow
def test_compiled_batch_job_matches_the_eager_one(
    tmp_path: Path, adain_file: Path, styles: list[Path], photos: Path, capsys: pytest.CaptureFixture
) -> None:
    (photos / "corrupt.jpg").unlink()
    common = [photos, "-c", adain_file, "--style-image", styles[0], "--alpha", "0.8"]
    assert run(*common, "-o", tmp_path / "eager", "--compile", "off") == 0
    assert "eager net" in capsys.readouterr().err
    assert run(*common, "-o", tmp_path / "compiled", "--compile", "on") == 0
    assert "compiled net" in capsys.readouterr().err
    for name in ["odd.png", "large.png"]:  # 37x29 is padded to the stride and cropped back
        eager, built = read(tmp_path / "eager" / name), read(tmp_path / "compiled" / name)
        assert built.shape == eager.shape and eager.std() > 0.01
        assert (built - eager).abs().max() <= 1 / 255 + 1e-6


def test_shipped_model_prints_no_band_along_the_top_edge(assets: Path) -> None:
    """The encoder's zero padding made the shipped model print a band of the style's hue along
    the top edge (91 levels on this photo); the reflected margin of the inference path removes it."""
    if not arbitrary.DEFAULT_MODEL.is_file():
        pytest.skip("no shipped arbitrary-style model")
    model, _ = load_adain(arbitrary.DEFAULT_MODEL)
    ramp = torch.linspace(0.2, 0.8, 256)  # varies along the rows only: every row is alike
    photo = torch.stack([ramp.expand(192, 256), ramp.flip(0).expand(192, 256), torch.full((192, 256), 0.5)])
    with torch.no_grad():
        style = model.style_stats(load_tensor(assets / "styles" / "the_scream.jpg", long_side=256)[None])
        net = arbitrary.StyledAdaIN(model.eval(), style)

        def top_band(stylized: torch.Tensor) -> float:  # the top rows' colour against the rows below
            rows = stylized[0].mul(255).mean(2)
            return (rows[:, :4].mean(1) - rows[:, 16:48].mean(1)).abs().max().item()

        without_margin, inference = top_band(model(photo[None], style)), top_band(net(photo[None]))
    assert without_margin > 60  # the defect is there without the margin ...
    assert inference < 30  # ... and gone on the path stylize.py takes


def test_style_weights_blend_the_styles(tmp_path: Path, adain_file: Path, styles: list[Path], photos: Path) -> None:
    (photos / "corrupt.jpg").unlink()
    outputs = {}
    for label, extra in {
        "first": ["--style-image", styles[0]],
        "second": ["--style-image", styles[1]],
        "first_by_weight": ["--style-image", *styles, "--style-weights", "1", "0"],
        "mix": ["--style-image", *styles, "--style-weights", "0.7", "0.3"],
    }.items():
        assert run(photos, "-o", tmp_path / label, "-c", adain_file, *extra) == 0
        outputs[label] = read(next((tmp_path / label).rglob("odd.png")))
    assert torch.equal(outputs["first"], outputs["first_by_weight"])
    assert (outputs["first"] - outputs["second"]).abs().mean() > 0.01  # the two styles differ
    # The 0.7/0.3 mix lies between the two styles, nearer the first.
    to_first = (outputs["mix"] - outputs["first"]).abs().mean()
    to_second = (outputs["mix"] - outputs["second"]).abs().mean()
    assert 0 < to_first < to_second
    assert (tmp_path / "mix" / "first-70+second-30" / "odd.png").is_file() or (tmp_path / "mix" / "odd.png").is_file()


def test_alpha_zero_ignores_the_style(tmp_path: Path, adain_file: Path, styles: list[Path], photos: Path) -> None:
    (photos / "corrupt.jpg").unlink()
    for style in styles:
        assert run(photos, "-o", tmp_path / style.stem, "-c", adain_file, "--style-image", style, "--alpha", "0") == 0
    assert torch.equal(read(tmp_path / "first" / "odd.png"), read(tmp_path / "second" / "odd.png"))


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--style-image", "BAD"], "empty file"),
        (["--style-image", "MISSING"], "missing.png"),
        (["--style-image", "STYLE", "STYLE", "--style-weights", "1"], "2 style images but 1"),
        (["--style-image", "STYLE", "--alpha", "1.5"], "--alpha"),
        (["--style-image", "STYLE", "--wct", "-0.5"], "--wct"),
        (["--style-image", "STYLE", "-c", "NET"], "not an arbitrary-style"),
    ],
)
def test_bad_style_input_is_one_line_and_exit_2(
    tmp_path: Path,
    adain_file: Path,
    styles: list[Path],
    photos: Path,
    extra: list[str],
    message: str,
    capsys: pytest.CaptureFixture,
) -> None:
    from fst.models.transformer import TransformerNet

    bad = tmp_path / "bad.jpg"
    bad.write_bytes(b"")
    net = export(TransformerNet(channels=(8, 16, 32), num_residual_blocks=1), tmp_path / "net.safetensors")
    names = {"BAD": bad, "MISSING": tmp_path / "missing.png", "STYLE": styles[0], "NET": net}
    extra = [str(names.get(a, a)) for a in extra]
    model = [] if "-c" in extra else ["-c", adain_file]
    assert run(photos, "-o", tmp_path / "out", *model, *extra) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("error: ") and message in err
    assert not (tmp_path / "out").exists()


def test_no_shipped_model_says_how_to_train_one(
    tmp_path: Path, styles: list[Path], photos: Path, capsys: pytest.CaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(arbitrary, "DEFAULT_MODEL", tmp_path / "checkpoints" / "adain.safetensors")
    assert run(photos, "-o", tmp_path / "out", "--style-image", styles[0]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no arbitrary-style model is shipped yet" in err
    assert "experiment=adain" in err


def _tiled_against_untiled(model, style: ChannelStats, image: torch.Tensor, tile: int, overlap: int) -> float:
    with torch.no_grad():  # with the inference path's reflected margin, which tiles must reproduce
        untiled = model(image[None], style, 0.8, border=BORDER)[0]
    return psnr(untiled, stylize_tiled(model, style, image, tile, overlap, alpha=0.8, border=BORDER))


def test_tiles_match_untiled_with_a_random_model() -> None:
    model = tiny_adain(seed=2)
    image = torch.nn.functional.interpolate(torch.rand(1, 3, 25, 33), size=(200, 264), mode="bilinear")[0]
    style = model.style_stats(torch.rand(1, 3, 64, 48))
    # The overlap must cover the encoder's and decoder's reach (~100 px): 64 gave 36 dB once the
    # decoder's output followed its input rather than its biases, 96 gives 52 dB.
    assert _tiled_against_untiled(model, style, image, tile=128, overlap=96) >= 40.0


def test_wct_tiles_match_untiled_and_need_the_whole_image_covariance(monkeypatch: pytest.MonkeyPatch) -> None:
    model = tiny_adain(seed=2)
    image = torch.nn.functional.interpolate(torch.rand(1, 3, 25, 33), size=(200, 264), mode="bilinear")[0]
    with torch.no_grad():
        style = style_colouring(model.encode(torch.rand(1, 3, 64, 48))["relu4_1"])
        net = arbitrary.StyledAdaIN(model, style, alpha=0.9, wct=0.6)

        def tiled_psnr() -> float:
            tiled = stylize_tiled(model, net.style, image, 128, 96, alpha=0.9, border=BORDER, wct=0.6)
            return psnr(net(image[None])[0], tiled)

        assert tiled_psnr() >= 40.0
        plain = arbitrary.covariance_transfer  # each tile's own covariance instead of the pooled one
        monkeypatch.setattr(arbitrary, "covariance_transfer", lambda f, s, w, a, content_stats: plain(f, s, w, a))
        assert tiled_psnr() < 40.0


def test_wct_share_changes_the_output_and_zero_is_plain_adain(
    tmp_path: Path, adain_file: Path, styles: list[Path], photos: Path
) -> None:
    (photos / "corrupt.jpg").unlink()
    common = [photos, "-c", adain_file, "--style-image", styles[0]]
    for share in ["0", "0.5", "1"]:
        assert run(*common, "-o", tmp_path / share, "--wct", share) == 0
    assert run(*common, "-o", tmp_path / "default") == 0
    model, _ = load_adain(adain_file)
    with torch.no_grad():
        plain_adain = arbitrary.StyledAdaIN(model, model.style_stats(load_tensor(styles[0], long_side=512)[None]))
        expected = plain_adain(load_tensor(photos / "large.png")[None])[0]
    assert (read(tmp_path / "0" / "large.png") - expected).abs().max() <= 1 / 255 + 1e-6  # --wct 0: AdaIN
    for name in ["odd.png", "large.png"]:
        zero, half, full = (read(tmp_path / share / name) for share in ["0", "0.5", "1"])
        assert (full - zero).abs().mean() > (half - zero).abs().mean() > 0.002
        default = read(tmp_path / "default" / name)
        assert 0 < (default - half).abs().mean() < (default - zero).abs().mean()  # 0.7: between 0.5 and 1


def test_tiles_need_whole_image_statistics_with_the_real_encoder(
    assets: Path, vgg_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A photo through the real VGG encoder (random decoder): tiled with whole-image relu4_1
    # statistics it matches the untiled output; with each tile's own statistics (plain AdaIN per
    # tile) it does not, so the test would catch a tiling that lost the pooled statistics.
    model = tiny_adain(seed=2, vgg_weights=str(vgg_file))
    image = load_tensor(assets / "content" / "tubingen.jpg", long_side=512)
    style = model.style_stats(load_tensor(assets / "styles" / "the_scream.jpg", long_side=256)[None])
    assert _tiled_against_untiled(model, style, image, tile=256, overlap=128) >= 40.0
    plain = arbitrary.adaptive_instance_norm
    monkeypatch.setattr(
        arbitrary, "adaptive_instance_norm", lambda features, style, alpha, content_stats: plain(features, style, alpha)
    )
    assert _tiled_against_untiled(model, style, image, tile=256, overlap=128) < 30.0


def test_onnx_runtime_matches_pytorch(tmp_path: Path) -> None:
    ort = pytest.importorskip("onnxruntime")
    from fst.stylize.export import export_adain_onnx

    model = tiny_adain(seed=4)
    path = export_adain_onnx(model, tmp_path / "adain.onnx", alpha=0.6)
    session = ort.InferenceSession(str(path))
    for content_size, style_size in [((24, 32), (32, 16)), ((40, 64), (24, 24))]:
        content, style = torch.rand(1, 3, *content_size), torch.rand(1, 3, *style_size)
        (stylized,) = session.run(None, {"content": content.numpy(), "style": style.numpy()})
        with torch.no_grad():
            expected = model(content, model.style_stats(style), 0.6, border=BORDER)
        assert stylized.shape == expected.shape
        np.testing.assert_allclose(stylized, expected.numpy(), atol=1e-4, rtol=0)
        assert expected.std() > 0.01


def test_whole_images_are_capped_for_memory(tmp_path: Path) -> None:
    from fst.stylize.options import TilingOptions

    model = tiny_adain()
    net = arbitrary.StyledAdaIN(model, model.style_stats(torch.rand(1, 3, 32, 32)), alpha=1.0)
    cpu, kind = torch.device("cpu"), arbitrary.ArbitraryStylizer
    stylizer = kind(net, "style", cpu, tiling=TilingOptions(max_pixels=6_000_000))
    # The compiled package needs about half the eager net's memory: it runs larger images whole.
    assert stylizer.whole_image_limit(compiled=False) == kind.EAGER_MAX_PIXELS < kind.COMPILED_MAX_PIXELS
    assert stylizer.whole_image_limit(compiled=True) == kind.COMPILED_MAX_PIXELS < 6_000_000
    small = kind(net, "style", cpu, tiling=TilingOptions(max_pixels=5_000))
    assert small.whole_image_limit(compiled=False) == small.whole_image_limit(compiled=True) == 5_000
    default = kind(net, "style", cpu, tiling=TilingOptions())  # no --max-pixels: the caps alone
    assert default.whole_image_limit(compiled=False) == kind.EAGER_MAX_PIXELS
    assert default.whole_image_limit(compiled=True) == kind.COMPILED_MAX_PIXELS


def test_sharded_workers_write_every_output_once(
    tmp_path: Path, adain_file: Path, styles: list[Path], photos: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (photos / "corrupt.jpg").unlink()
    random_photo(30, 20, seed=9).save(photos / "third.png")
    written = []
    for rank in range(2):
        monkeypatch.setenv("RANK", str(rank))
        monkeypatch.setenv("WORLD_SIZE", "2")
        out = tmp_path / f"rank{rank}"
        assert run(photos, "-o", out, "-c", adain_file, "--style-image", styles[0]) == 0
        written.append({p.name for p in out.rglob("*.png")})
    assert not written[0] & written[1]
    assert written[0] | written[1] == {"odd.png", "large.png", "third.png"}


def test_preserve_color_keeps_the_photos_chroma(
    tmp_path: Path, adain_file: Path, styles: list[Path], photos: Path
) -> None:
    from fst.color import luminance

    (photos / "corrupt.jpg").unlink()
    assert run(photos, "-o", tmp_path / "out", "-c", adain_file, "--style-image", styles[1], "--preserve-color") == 0
    content, stylized = read(photos / "odd.png")[None], read(tmp_path / "out" / "odd.png")[None]
    chroma = (stylized - luminance(stylized)) - (content - luminance(content))
    # Pixels with no clipped channel (clipping moves the chroma), up to 8-bit rounding.
    inside = ((stylized > 0.02) & (stylized < 0.98) & (content > 0.02) & (content < 0.98)).all(1, keepdim=True)
    assert inside.float().mean() > 0.5
    assert chroma[inside.expand_as(chroma)].abs().max() < 0.02
    assert (luminance(stylized) - luminance(content)).abs().mean() > 0.01  # the luminance did change
