from functools import partial
from pathlib import Path

import pytest
import torch

from fst.losses.distill import DistillationLoss
from fst.models.multistyle import MultiStyleNet
from fst.training.distill_module import DistillationModule
from fst.training.style_module import MultiStyleTransferModule
from fst.training.warmup import with_warmup
from tests.training.test_distill_module import STYLES, make_teacher
from tests.training.test_style_module import make_multi_module


def test_no_warmup_is_the_optimizer_alone() -> None:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=1e-3)
    assert with_warmup(optimizer, 0) is optimizer


def test_adams_first_step_is_a_fraction_of_the_rate_and_the_full_rate_comes_after_the_ramp() -> None:
    weight = torch.nn.Parameter(torch.zeros(5))
    configured = with_warmup(torch.optim.Adam([weight], lr=1e-3), 10)
    optimizer, schedule = configured["optimizer"], configured["lr_scheduler"]["scheduler"]
    assert configured["lr_scheduler"]["interval"] == "step"  # per optimizer step, not per epoch
    gradient_scales = torch.tensor([1e-6, 1e-3, 1.0, 10.0, -5.0])
    rates, moves = [], []
    for _ in range(12):
        rates.append(optimizer.param_groups[0]["lr"])
        before = weight.detach().clone()
        optimizer.zero_grad()
        (weight * gradient_scales).sum().backward()
        optimizer.step()
        schedule.step()
        moves.append((weight.detach() - before).abs().max().item())
    # A fresh Adam moves every weight by about its rate whatever the gradient's size (that undid a
    # warm start): the ramp keeps the first move to a tenth of it.
    assert moves[0] == pytest.approx(1e-4, rel=1e-2)
    assert rates[0] == pytest.approx(1e-4) and rates[4] == pytest.approx(5e-4)
    assert rates[9:] == pytest.approx([1e-3] * 3)


def test_the_distillation_module_ramps_when_asked(tmp_path: Path) -> None:
    teacher = make_teacher(tmp_path / "teacher.safetensors")
    student = MultiStyleNet(STYLES, (4, 8, 16), 1)
    adam = partial(torch.optim.Adam, lr=1e-3)
    module = DistillationModule(student, DistillationLoss(), adam, str(teacher), "tiny", warmup_steps=50)
    assert module.configure_optimizers()["optimizer"].param_groups[0]["lr"] == pytest.approx(1e-3 / 50)
    plain = DistillationModule(student, DistillationLoss(), adam, str(teacher), "tiny")
    assert isinstance(plain.configure_optimizers(), torch.optim.Adam)


def test_the_multi_style_module_passes_its_warmup_to_the_base(tmp_path: Path) -> None:
    reference = make_multi_module(tmp_path)
    module = MultiStyleTransferModule(
        reference.net, reference.loss, reference.optimizer_factory, ["a", "b"], str(tmp_path), "ab", warmup_steps=4
    )
    assert module.hparams.warmup_steps == 4
    assert module.configure_optimizers()["optimizer"].param_groups[0]["lr"] == pytest.approx(1e-3 / 4)
