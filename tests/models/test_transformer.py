import pytest
import torch
from torch import nn

from fst.models.transformer import TransformerNet

TINY = {"channels": (8, 16, 32), "num_residual_blocks": 2}


@pytest.mark.parametrize("height,width", [(255, 257), (32, 32), (1, 1), (3, 7), (9, 4)])
def test_output_size_equals_input_size(height: int, width: int) -> None:
    net = TransformerNet(**TINY).eval()
    with torch.no_grad():
        out = net(torch.rand(2, 3, height, width))
    assert out.shape == (2, 3, height, width)


@pytest.mark.parametrize("upsample", ["nearest", "transpose"])
@pytest.mark.parametrize("output_head", ["clamp", "tanh"])
def test_variants_stay_in_pixel_range(upsample: str, output_head: str) -> None:
    net = TransformerNet(**TINY, upsample=upsample, output_head=output_head)
    with torch.no_grad():
        out = net(torch.rand(1, 3, 33, 31))
    assert out.shape == (1, 3, 33, 31)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0


def test_full_width_has_johnson_parameter_count() -> None:
    # Johnson's net: ~1.68M parameters; the half-width variant about a quarter of that.
    full = sum(p.numel() for p in TransformerNet().parameters())
    half = sum(p.numel() for p in TransformerNet(channels=(16, 32, 64)).parameters())
    assert 1_600_000 < full < 1_750_000
    assert 3.5 < full / half < 4.5


def test_rejects_other_pixel_conventions() -> None:
    """0..255 or ImageNet-normalised inputs are the classic train/inference mismatch: refuse them."""
    net = TransformerNet(**TINY)
    image = torch.rand(1, 3, 16, 16)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        net(image * 255)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        net((image - 0.45) / 0.225)


def test_clamp_head_passes_gradient_through_saturated_pixels() -> None:
    net = TransformerNet(**TINY, output_head="clamp")
    with torch.no_grad():
        net.decoder[-1][1].bias.fill_(5.0)  # every output pixel far above 1
    out = net(torch.rand(1, 3, 16, 16))
    assert torch.all(out == 1.0)
    out.sum().backward()
    assert net.decoder[-1][1].bias.grad.abs().sum() > 0


def test_architecture_round_trips() -> None:
    net = TransformerNet(**TINY, upsample="transpose", output_head="tanh")
    clone = TransformerNet(**net.architecture())
    clone.load_state_dict(net.state_dict())
    x = torch.rand(1, 3, 20, 20)
    assert torch.equal(net.eval()(x), clone.eval()(x))


@pytest.mark.parametrize("output_head", ["clamp", "tanh"])
@pytest.mark.parametrize("grad", [False, True])
def test_forward_is_pad_stages_head_crop(output_head: str, grad: bool) -> None:
    # Variants (masked, whole-image statistics, tiles) rely on these parts adding up to the forward.
    net = TransformerNet(**TINY, output_head=output_head).eval()
    x = torch.rand(2, 3, 13, 6)
    with torch.set_grad_enabled(grad):
        y = net.pad(x)
        assert y.shape[-2:] == net.padded_size(13, 6) == (16, 8)
        for stage in net.stages:
            y = stage(y)
        assert torch.equal(net(x), net.head(y)[..., :13, :6])
    assert {id(p) for stage in net.stages for p in stage.parameters()} == {id(p) for p in net.parameters()}


def test_pad_keeps_the_image_and_skips_fitting_sizes() -> None:
    net = TransformerNet(**TINY)
    x = torch.rand(1, 3, 9, 4)
    assert torch.equal(net.pad(x)[..., :9, :4], x)
    assert net.padded_size(1, 1) == (8, 8)
    fitting = torch.rand(1, 3, 12, 8)
    assert net.pad(fitting) is fitting


class _WrappedNorm(nn.Module):
    def __init__(self, norm: nn.InstanceNorm2d) -> None:
        super().__init__()
        self.norm = norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.norm(x)


def test_with_norms_shares_parameters() -> None:
    net = TransformerNet(**TINY).eval()
    variant = net.with_norms(_WrappedNorm)
    assert sum(isinstance(m, _WrappedNorm) for m in variant.modules()) == 3 + 2 * 2 + 2
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        net.encoder[0][1].weight.mul_(3.0)  # a norm weight, as the variant holds them
        net.decoder[-1][1].bias.add_(0.2)
        assert torch.equal(variant(x), net(x))
    assert {id(p) for p in variant.parameters()} == {id(p) for p in net.parameters()}


def test_with_norms_leaves_the_original_untouched() -> None:
    net = TransformerNet(**TINY).eval()
    x = torch.rand(1, 3, 20, 20)
    with torch.no_grad():
        before = net(x)
        variant = net.with_norms(lambda norm: nn.Identity())
        assert not torch.equal(variant(x), before)
        assert torch.equal(net(x), before)
    assert sum(isinstance(m, nn.InstanceNorm2d) for m in net.modules()) == 3 + 2 * 2 + 2
    assert not any(isinstance(m, nn.InstanceNorm2d) for m in variant.modules())
