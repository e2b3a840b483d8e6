"""Conditional instance norm: one net, many styles; blending folds into a plain TransformerNet."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet

STYLES = ["a", "b", "c"]


def multi_net(seed: int = 0) -> MultiStyleNet:
    torch.manual_seed(seed)
    net = MultiStyleNet(STYLES, channels=(8, 16, 32), num_residual_blocks=1).eval()
    with torch.no_grad():  # distinct affine rows per style, as after training
        for norm in net.norms:
            norm.weight.copy_(1 + 0.3 * torch.randn_like(norm.weight))
            norm.bias.copy_(0.1 * torch.randn_like(norm.bias))
    return net


def test_norm_affine_is_the_style_row_by_hand() -> None:
    net = multi_net()
    norm = net.norms[0]
    x = torch.randn(2, norm.weight.shape[1], 6, 5)
    norm.mix = F.one_hot(torch.tensor([2, 0]), 3).float()
    expected = torch.stack(
        [
            (x[i] - x[i].mean((1, 2), keepdim=True))
            / torch.sqrt(x[i].var((1, 2), unbiased=False, keepdim=True) + 1e-5)
            * norm.weight[s][:, None, None]
            + norm.bias[s][:, None, None]
            for i, s in enumerate([2, 0])
        ]
    )
    torch.testing.assert_close(norm(x), expected, atol=1e-4, rtol=1e-4)


def test_each_batch_entry_gets_its_own_style() -> None:
    net = multi_net()
    x = torch.rand(1, 3, 24, 20)
    per_style = [net(x, torch.tensor([i])) for i in range(3)]
    mixed_batch = net(x.expand(3, -1, -1, -1), torch.tensor([0, 1, 2]))
    for i in range(3):
        torch.testing.assert_close(mixed_batch[i : i + 1], per_style[i], atol=1e-5, rtol=1e-5)
    assert (per_style[0] - per_style[1]).abs().max() > 1e-3  # the styles differ


def test_blend_of_one_style_equals_the_multi_net() -> None:
    net = multi_net()
    x = torch.rand(2, 3, 20, 28)
    plain = net.blend({"b": 1.0})
    assert type(plain) is TransformerNet
    torch.testing.assert_close(plain(x), net(x, torch.tensor([1, 1])), atol=1e-5, rtol=1e-5)


def test_blend_mixes_the_norm_parameters_convexly() -> None:
    net = multi_net()
    plain = net.blend({"a": 3.0, "c": 1.0})  # normalised to 0.75 / 0.25
    norm = net.norms[2]
    name = next(n for n, m in net.named_modules() if m is norm)
    expected = 0.75 * norm.weight[0] + 0.25 * norm.weight[2]
    torch.testing.assert_close(plain.get_submodule(name).weight, expected)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(plain(x), net(x, {"a": 0.75, "c": 0.25}), atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize(("mix", "message"), [({"z": 1.0}, "unknown style"), ({"a": -1.0, "b": 2.0}, ">= 0")])
def test_bad_mixes_are_named(mix: dict[str, float], message: str) -> None:
    with pytest.raises((KeyError, ValueError), match=message):
        multi_net().blend(mix)


def test_warm_start_from_a_single_style_net_gives_every_style_its_output() -> None:
    torch.manual_seed(1)
    single = TransformerNet((8, 16, 32), 1).eval()
    net = MultiStyleNet(STYLES, channels=(8, 16, 32), num_residual_blocks=1).eval()
    net.load_shared(single)
    x = torch.rand(1, 3, 16, 16)
    for i in range(3):
        torch.testing.assert_close(net(x, torch.tensor([i])), single(x), atol=1e-5, rtol=1e-5)


def test_warm_start_from_a_multi_style_net_matches_styles_by_name() -> None:
    source = multi_net()
    grown = MultiStyleNet(["c", "new", "a"], channels=(8, 16, 32), num_residual_blocks=1).eval()
    grown.load_shared(source)
    x = torch.rand(1, 3, 16, 16)
    torch.testing.assert_close(grown(x, {"c": 1.0}), source(x, {"c": 1.0}), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grown(x, {"a": 1.0}), source(x, {"a": 1.0}), atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(grown.norms[0].weight[1], source.norms[0].weight.mean(0))  # new: the mean


def test_a_multi_style_net_needs_a_style() -> None:
    with pytest.raises(ValueError, match="choose a style"):
        multi_net()(torch.rand(1, 3, 16, 16))
