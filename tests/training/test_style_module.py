import copy
from functools import partial
from pathlib import Path

import pytest
import torch

from fst.losses.perceptual import PerceptualLoss
from fst.losses.terms import gram_loss
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet
from fst.models.vgg import VGGFeatures
from fst.training.style_module import MultiStyleTransferModule, StyleTransferModule
from tests.conftest import random_photo


def make_module(tmp_path: Path, ema_decay: float | None = None) -> StyleTransferModule:
    style = tmp_path / "style.png"
    random_photo(40, 32, seed=3).save(style)
    vgg = VGGFeatures("vgg16", weights="random", input_convention="caffe")
    loss = PerceptualLoss(vgg, ["relu2_2"], ["relu1_2", "relu2_2"], 1.0, 1.0, 1.0)
    net = TransformerNet((8, 16, 32), 1)
    optimizer = partial(torch.optim.Adam, lr=1e-3)
    return StyleTransferModule(net, loss, optimizer, str(style), ema_decay=ema_decay)


def test_checkpoint_state_holds_only_the_transform_net(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    keys = list(module.state_dict())
    assert keys and all(k.startswith("net.") for k in keys)


def test_state_dict_round_trip_restores_the_net(tmp_path: Path) -> None:
    a, b = make_module(tmp_path), make_module(tmp_path)
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(a.net.eval()(x), b.net.eval()(x))


def test_the_moving_average_trails_the_net_and_is_what_validates(tmp_path: Path) -> None:
    module = make_module(tmp_path, ema_decay=0.5)
    optimizer = module.configure_optimizers()
    assert all(not p.requires_grad for p in module.net_average.parameters())  # DDP waits for no gradient
    assert not any(p is q for p in module.net_average.parameters() for q in optimizer.param_groups[0]["params"])

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = sum(p.square().sum() for p in module.net.parameters())
        loss.backward()
        return loss

    module.optimizer_step(0, 0, optimizer, closure)  # the first update copies the stepped net
    first = [p.detach().clone() for p in module.net.parameters()]
    module.optimizer_step(0, 1, optimizer, closure)
    assert not all(torch.equal(before, now) for before, now in zip(first, module.net.parameters(), strict=True))
    averages = module.net_average.module.parameters()
    for before, now, average in zip(first, module.net.parameters(), averages, strict=True):
        assert torch.allclose(average, 0.5 * before + 0.5 * now)
    assert module.inference_net is module.net_average.module


def test_the_moving_average_resumes_exactly_or_starts_from_the_restored_net(tmp_path: Path) -> None:
    trained = make_module(tmp_path, ema_decay=0.5)
    optimizer = trained.configure_optimizers()
    for _ in range(2):
        adam_step(trained, optimizer, grad_fill=None)
        trained.net_average.update_parameters(trained.net)
    state = trained.state_dict()
    assert any(k.startswith("net_average.") for k in state) and not any(k.startswith("loss.") for k in state)
    resumed = make_module(tmp_path, ema_decay=0.5)
    resumed.load_state_dict(state)
    for a, b in zip(trained.inference_net.parameters(), resumed.inference_net.parameters(), strict=True):
        assert torch.equal(a, b)
    # A checkpoint from a run without an average (switched on at a resume): the average is the net.
    plain = {k: v for k, v in state.items() if k.startswith("net.")}
    switched = make_module(tmp_path, ema_decay=0.5)
    switched.load_state_dict(plain)
    for a, b in zip(trained.net.parameters(), switched.inference_net.parameters(), strict=True):
        assert torch.equal(a, b)


def test_style_name_and_hash_default_from_the_file(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    assert module.style_name == "style"
    assert len(module.style_sha256) == 64


def adam_step(module: StyleTransferModule, optimizer: torch.optim.Optimizer, grad_fill: float | None) -> None:
    """One optimizer step in Lightning's order: the closure computes gradients, then the hook runs."""

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = sum(p.square().sum() for p in module.net.parameters())
        loss.backward()
        if grad_fill is not None:
            for parameter in module.net.parameters():
                parameter.grad.fill_(grad_fill)
        module.on_before_optimizer_step(optimizer)
        return loss

    optimizer.step(closure)


def test_skipped_step_leaves_weights_and_optimizer_state_unchanged(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    module.log = lambda *args, **kwargs: None  # no trainer attached
    optimizer = torch.optim.Adam(module.net.parameters(), lr=1e-3)
    adam_step(module, optimizer, None)  # a real step first, so Adam has moments and a step count
    weights = {k: v.clone() for k, v in module.net.state_dict().items()}
    state = copy.deepcopy(optimizer.state_dict())

    adam_step(module, optimizer, float("nan"))

    assert module.skipped_steps == 1
    assert all(torch.equal(weights[k], v) for k, v in module.net.state_dict().items())
    after = optimizer.state_dict()
    assert after["state"].keys() == state["state"].keys()
    for index, entry in state["state"].items():
        for key, value in entry.items():
            assert torch.equal(after["state"][index][key], value), (index, key)

    adam_step(module, optimizer, None)  # and training goes on from there
    assert module.skipped_steps == 1
    assert not all(torch.equal(weights[k], v) for k, v in module.net.state_dict().items())


def make_multi_module(tmp_path: Path, style_weights: dict | None = None) -> MultiStyleTransferModule:
    for seed, name in enumerate(("a", "b")):
        random_photo(40, 32, seed=seed).save(tmp_path / f"{name}.jpg")
    vgg = VGGFeatures("vgg16", weights="random", input_convention="caffe")
    loss = PerceptualLoss(vgg, ["relu2_2"], ["relu1_2", "relu2_2"], 1.0, 1.0, 0.0)
    net = MultiStyleNet(["a", "b"], channels=(8, 16, 32), num_residual_blocks=1)
    optimizer = partial(torch.optim.Adam, lr=1e-3)
    return MultiStyleTransferModule(net, loss, optimizer, ["a", "b"], str(tmp_path), "ab", style_weights=style_weights)


def test_style_weights_multiply_only_their_styles_training_term(tmp_path: Path) -> None:
    module = make_multi_module(tmp_path, {"b": 4.0})
    module._ensure_style_target()
    batch = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        for styles in (torch.tensor([1, 1]), torch.tensor([0, 0])):
            stylized = module.net(batch, styles)
            plain = module.loss(stylized, batch, module.target_for(styles))["style"]
            weighted = module.loss(stylized, batch, module.target_for(styles, weighted=True))["style"]
            factor = 4.0 if styles[0] == 1 else 1.0
            assert plain > 0 and torch.isclose(weighted, factor * plain)


def test_style_weights_per_layer_multiply_only_that_layer_of_that_style(tmp_path: Path) -> None:
    plain_module = make_multi_module(tmp_path)
    module = make_multi_module(tmp_path, {"b": {"relu2_2": 3.0}})
    for m in (plain_module, module):
        m._ensure_style_target()
    batch = torch.rand(2, 3, 32, 32)
    styles = torch.tensor([1, 1])
    with torch.no_grad():
        stylized = module.net(batch, styles)
        target = module.target_for(styles, weighted=True)
        features = module.loss.vgg(stylized, ["relu1_2", "relu2_2"])
        per_layer = {layer: gram_loss(features, target.grams, {layer: 1.0}) for layer in ("relu1_2", "relu2_2")}
        weighted = module.loss(stylized, batch, target)["style"]
    assert per_layer["relu1_2"] > 0 and per_layer["relu2_2"] > 0
    assert torch.isclose(weighted, per_layer["relu1_2"] + 3.0 * per_layer["relu2_2"])
    assert torch.equal(module.style_weights["relu1_2"], plain_module.style_weights["relu1_2"])


def test_style_weights_for_an_unknown_style_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="style_weights: 'c' is not one of"):
        make_multi_module(tmp_path, {"c": 2.0})


def test_style_weights_for_a_layer_the_loss_does_not_use_are_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match=r"style_weights: b: 'relu4_1' is not one of the style layers"):
        make_multi_module(tmp_path, {"b": {"relu4_1": 2.0}})
