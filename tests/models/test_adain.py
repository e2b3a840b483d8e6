"""AdaIN: statistics and normalisation against hand computations, style blending, the model's contract."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch
from torch import nn

from fst.checkpoint import CheckpointError, export, load_adain, load_net, styles_in
from fst.models.adain import EPS, ChannelStats, Decoder, adaptive_instance_norm, blend_stats, channel_stats
from fst.zoo import shipped_styles
from tests.conftest import tiny_adain


def test_channel_stats_by_hand() -> None:
    # One sample, two channels of four values: means 2.5 and 10, population variances 1.25 and 0.
    features = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]], [[10.0, 10.0], [10.0, 10.0]]]])
    mean, std = channel_stats(features)
    assert torch.allclose(mean, torch.tensor([[2.5, 10.0]]))
    assert torch.allclose(std, torch.tensor([[math.sqrt(1.25 + EPS), math.sqrt(EPS)]]))


def test_adaptive_instance_norm_by_hand() -> None:
    # Content channel [1, 3, 1, 3]: mean 2, std sqrt(1 + eps) ~ 1. Style mean 10, std 2 -> [8, 12, 8, 12].
    content = torch.tensor([[[[1.0, 3.0], [1.0, 3.0]]]])
    style = ChannelStats(torch.tensor([[10.0]]), torch.tensor([[2.0]]))
    scale = 2.0 / math.sqrt(1.0 + EPS)
    expected = torch.tensor([[[[10 - scale, 10 + scale], [10 - scale, 10 + scale]]]])
    assert torch.allclose(adaptive_instance_norm(content, style), expected)
    # alpha mixes in feature space: 0 is the content's features, 0.25 a quarter of the way.
    assert torch.equal(adaptive_instance_norm(content, style, alpha=0.0), content)
    assert torch.allclose(adaptive_instance_norm(content, style, alpha=0.25), 0.75 * content + 0.25 * expected)


def test_content_stats_replace_the_tiles_own() -> None:
    tile = torch.randn(1, 4, 5, 5)
    whole = ChannelStats(torch.zeros(1, 4), torch.ones(1, 4))
    style = ChannelStats(torch.full((1, 4), 3.0), torch.full((1, 4), 2.0))
    assert torch.allclose(adaptive_instance_norm(tile, style, content_stats=whole), tile * 2 + 3)


def test_style_weights_blend_equals_weighted_sum_of_adain_outputs() -> None:
    # Huang & Belongie interpolate styles as sum_k w_k AdaIN(content, style_k); mixing the
    # statistics must give exactly that, with the weights normalised.
    torch.manual_seed(0)
    content = torch.randn(2, 8, 6, 5)
    first, second = (channel_stats(torch.randn(1, 8, 7, 7) * s + s) for s in (1.0, 3.0))
    mixed = adaptive_instance_norm(content, blend_stats([first, second], [1.4, 0.6]))
    expected = 0.7 * adaptive_instance_norm(content, first) + 0.3 * adaptive_instance_norm(content, second)
    assert torch.allclose(mixed, expected, atol=1e-5)
    assert torch.allclose(blend_stats([first, second], [1.0, 0.0]).mean, first.mean)
    assert not torch.allclose(mixed, adaptive_instance_norm(content, first), atol=1e-3)
    with pytest.raises(ValueError, match="2 styles but 1"):
        blend_stats([first, second], [1.0])
    with pytest.raises(ValueError, match=">= 0"):
        blend_stats([first, second], [1.0, -0.5])


def test_decoder_mirrors_the_encoder() -> None:
    decoder = Decoder(width=0.25)
    assert decoder(torch.randn(1, 512, 3, 5)).shape == (1, 3, 24, 40)
    modules = list(decoder.modules())
    convs = [m for m in modules if isinstance(m, nn.Conv2d)]
    assert len(convs) == 9  # conv4_1, conv3_4..3_1, conv2_2, 2_1, conv1_2, 1_1
    assert sum(isinstance(m, nn.ReflectionPad2d) for m in modules) == 9
    assert [m.mode for m in modules if isinstance(m, nn.Upsample)] == ["nearest"] * 3
    assert not any(isinstance(m, (nn.BatchNorm2d, nn.InstanceNorm2d, nn.ConvTranspose2d)) for m in modules)
    assert sum(p.numel() for p in Decoder().parameters()) == 3_505_219  # the paper's decoder


@pytest.mark.parametrize("size", [(1, 1), (13, 21), (40, 24)])
def test_model_keeps_any_size_and_the_pixel_range(size: tuple[int, int]) -> None:
    model = tiny_adain()
    style = model.style_stats(torch.rand(1, 3, 30, 20))
    with torch.no_grad():
        out = model(torch.rand(2, 3, *size), style, alpha=0.5)
    assert out.shape == (2, 3, *size)
    assert out.min() >= 0 and out.max() <= 1 and out.std() > 0.01


def test_encoder_is_frozen_and_stays_in_eval_mode() -> None:
    model = tiny_adain().train()
    assert not model.encoder.training and model.decoder.training
    assert not any(p.requires_grad for p in model.encoder.parameters())
    assert all(p.requires_grad for p in model.decoder.parameters())
    assert model.encoder.names[-1] == "relu4_1"


def test_export_then_load_gives_identical_outputs_without_the_vgg_file(tmp_path: Path) -> None:
    model = tiny_adain(seed=3)
    path = export(model, tmp_path / "adain.safetensors", {"steps": 5})
    loaded, metadata = load_adain(path)
    assert metadata["model"] == "adain"
    assert metadata["architecture"] == {"decoder_width": 0.125, "decoder_input_scale": 2.0**-9}
    content, style = torch.rand(1, 3, 24, 16), torch.rand(1, 3, 16, 16)
    with torch.no_grad():
        assert torch.equal(loaded(content, loaded.style_stats(style)), model(content, model.style_stats(style)))
    # The style-net loaders refuse it in one line, and it is not listed as a shipped style.
    with pytest.raises(CheckpointError, match="style image"):
        load_net(path)
    with pytest.raises(CheckpointError, match="style image"):
        styles_in(path)
    assert shipped_styles(tmp_path) == []


def test_float16_export_halves_the_file_and_keeps_the_output(tmp_path: Path) -> None:
    model = tiny_adain(seed=4)
    full = export(model, tmp_path / "full.safetensors")
    half = export(model, tmp_path / "half.safetensors", dtype=torch.float16)
    assert half.stat().st_size < 0.55 * full.stat().st_size
    loaded, metadata = load_adain(half)
    assert metadata["dtype"] == "float16" and load_adain(full)[1]["dtype"] == "float32"
    assert all(p.dtype == torch.float32 for p in loaded.parameters())  # computed in float32 as before
    content, style = torch.rand(1, 3, 32, 40), torch.rand(1, 3, 32, 32)
    with torch.no_grad():
        ours, reference = loaded(content, loaded.style_stats(style)), model(content, model.style_stats(style))
    assert not torch.equal(ours, reference)  # the weights were rounded ...
    mse = (ours - reference).pow(2).mean().item()
    assert 10 * math.log10(1.0 / mse) >= 50  # ... by less than anyone could see


def test_load_adain_refuses_a_style_net(tmp_path: Path) -> None:
    from fst.models.transformer import TransformerNet

    path = export(TransformerNet(channels=(8, 16, 32), num_residual_blocks=1), tmp_path / "net.safetensors")
    with pytest.raises(CheckpointError, match="not an arbitrary-style"):
        load_adain(path)


def test_decoder_input_is_near_unit_scale_on_a_real_photo(vgg_file: Path, assets: Path) -> None:
    # The raw Caffe VGG's relu4_1 is ~700 rms: fed unscaled, the decoder barely learned (content loss
    # flat for 1,000 steps). Its input scale must bring real features near the paper's unit scale.
    from fst.io.images import load_tensor
    from fst.models.adain import AdaINModel

    model = AdaINModel(str(vgg_file)).eval()
    photo = load_tensor(assets / "content" / "tubingen.jpg", long_side=256)[None]
    with torch.no_grad():
        features = model.encode(model.pad(photo))["relu4_1"]
    raw_rms = features.square().mean().sqrt().item()
    assert raw_rms > 100  # the premise: the encoder is the raw Caffe VGG
    assert 0.3 < raw_rms * model.decoder.input_scale < 3.0
