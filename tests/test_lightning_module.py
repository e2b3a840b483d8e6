from functools import partial
from pathlib import Path

import torch

from fst.lightning_module import StyleTransferModule
from fst.losses.perceptual import PerceptualLoss
from fst.losses.vgg import VGGFeatures
from fst.models.transformer import TransformerNet
from tests.conftest import random_photo


def make_module(tmp_path: Path) -> StyleTransferModule:
    style = tmp_path / "style.png"
    random_photo(40, 32, seed=3).save(style)
    vgg = VGGFeatures("vgg16", weights="random", input_convention="caffe")
    loss = PerceptualLoss(vgg, ["relu2_2"], ["relu1_2", "relu2_2"], 1.0, 1.0, 1.0)
    return StyleTransferModule(TransformerNet((8, 16, 32), 1), loss, partial(torch.optim.Adam, lr=1e-3), str(style))


def test_checkpoint_state_holds_only_the_transform_net(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    keys = list(module.state_dict())
    assert keys and all(k.startswith("net.") for k in keys)


def test_state_dict_round_trip_restores_the_net(tmp_path: Path) -> None:
    a, b = make_module(tmp_path), make_module(tmp_path)
    b.load_state_dict(a.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(a.net.eval()(x), b.net.eval()(x))


def test_style_name_and_hash_default_from_the_file(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    assert module.style_name == "style"
    assert len(module.style_sha256) == 64


def test_non_finite_gradient_is_dropped_not_applied(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    module.log = lambda *args, **kwargs: None  # no trainer attached
    optimizer = torch.optim.Adam(module.net.parameters(), lr=1e-3)
    before = {k: v.clone() for k, v in module.net.state_dict().items()}
    for parameter in module.net.parameters():
        parameter.grad = torch.full_like(parameter, float("nan"))
    module.on_before_optimizer_step(optimizer)
    optimizer.step()
    assert module.skipped_steps == 1
    after = module.net.state_dict()
    assert all(torch.isfinite(v).all() for v in after.values())
    assert all(torch.equal(before[k], after[k]) for k in before)
