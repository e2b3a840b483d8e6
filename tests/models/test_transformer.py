import pytest
import torch
from torch import nn

from fst.models.transformer import TransformerNet

TINY = {"channels": (8, 16, 32), "num_residual_blocks": 2}
TINY_S2D = {"channels": (16, 32), "num_residual_blocks": 2, "space_to_depth": True}


@pytest.mark.parametrize("layout", [TINY, TINY_S2D], ids=["johnson", "space_to_depth"])
@pytest.mark.parametrize("height,width", [(255, 257), (32, 32), (1, 1), (3, 7), (9, 4)])
def test_output_size_equals_input_size(layout: dict, height: int, width: int) -> None:
    net = TransformerNet(**layout).eval()
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


@pytest.mark.parametrize("layout", [TINY, TINY_S2D], ids=["johnson", "space_to_depth"])
def test_architecture_round_trips(layout: dict) -> None:
    net = TransformerNet(**layout, upsample="transpose", output_head="tanh")
    clone = TransformerNet(**net.architecture())
    clone.load_state_dict(net.state_dict())
    x = torch.rand(1, 3, 20, 20)
    assert torch.equal(net.eval()(x), clone.eval()(x))


@pytest.mark.parametrize("layout", [TINY, TINY_S2D], ids=["johnson", "space_to_depth"])
@pytest.mark.parametrize("output_head", ["clamp", "tanh"])
@pytest.mark.parametrize("grad", [False, True])
def test_forward_is_pad_stages_head_crop(layout: dict, output_head: str, grad: bool) -> None:
    # Variants (masked, whole-image statistics, tiles) rely on these parts adding up to the forward.
    net = TransformerNet(**layout, output_head=output_head).eval()
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


def test_space_to_depth_runs_no_convolution_at_full_resolution() -> None:
    net = TransformerNet(**TINY_S2D).eval()
    sizes: list[int] = []
    for conv in (m for m in net.modules() if isinstance(m, nn.Conv2d)):
        conv.register_forward_hook(lambda _, inputs, __: sizes.append(inputs[0].shape[-1]))
    with torch.no_grad():
        net(torch.rand(1, 3, 64, 64))
    assert len(sizes) == 2 + 2 * 2 + 2 and max(sizes) <= 32 + 4  # half of 64, plus a reflection pad


def test_space_to_depth_keeps_the_trunk_of_a_three_width_net() -> None:
    """Its stride-2 conv, residual blocks and first upsampling stage have the keys and shapes of
    the three-width net's: a student of either layout can start from the other's trunk."""
    s2d = TransformerNet(**TINY_S2D).state_dict()
    johnson = TransformerNet(channels=(8, 16, 32), num_residual_blocks=2).state_dict()
    shared = {k for k in s2d if k in johnson and s2d[k].shape == johnson[k].shape}
    trunk = {k for k in s2d if k.startswith(("encoder.2.", "residuals.", "decoder.0."))}
    entry_and_exit_convs = {"encoder.1.0.1.weight", "decoder.1.1.weight"}
    assert trunk and trunk <= shared and not entry_and_exit_convs & shared


def test_space_to_depth_takes_two_widths() -> None:
    with pytest.raises(ValueError, match="2 widths"):
        TransformerNet(channels=(8, 16, 32), space_to_depth=True)
    with pytest.raises(ValueError, match="3 widths"):
        TransformerNet(channels=(16, 32))
