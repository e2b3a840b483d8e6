from functools import partial
from pathlib import Path

import pytest
import torch

from fst.losses.distill import DistillationLoss
from fst.models.multistyle import MultiStyleNet
from fst.training.distill_module import DistillationModule
from fst.training.lr_schedule import factor, with_schedule
from fst.training.style_module import MultiStyleTransferModule
from tests.training.test_distill_module import STYLES, make_teacher
from tests.training.test_style_module import make_multi_module


def test_no_schedule_is_the_optimizer_alone() -> None:
    optimizer = torch.optim.Adam([torch.nn.Parameter(torch.zeros(3))], lr=1e-3)
    assert with_schedule(optimizer) is optimizer


def test_adams_first_step_is_a_fraction_of_the_rate_and_the_full_rate_comes_after_the_ramp() -> None:
    weight = torch.nn.Parameter(torch.zeros(5))
    configured = with_schedule(torch.optim.Adam([weight], lr=1e-3), warmup_steps=10)
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


def test_the_drop_is_a_tenth_from_its_step_on_and_combines_with_the_ramp() -> None:
    assert [factor(step, drop_at=3) for step in range(5)] == pytest.approx([1, 1, 1, 0.1, 0.1])
    assert factor(0, warmup_steps=4, drop_at=0) == pytest.approx(0.025)
    assert factor(10, warmup_steps=4) == 1.0


def test_a_resume_that_adds_a_drop_continues_at_the_dropped_rate(tmp_path: Path) -> None:
    # The run is resumed with a drop it did not have: Lightning restores the optimizer and the
    # schedule's step from the checkpoint, and the new schedule applies from that step on.
    weight = torch.nn.Parameter(torch.zeros(3))
    first = with_schedule(torch.optim.Adam([weight], lr=1e-3), warmup_steps=2)
    for _ in range(5):
        first["optimizer"].step()
        first["lr_scheduler"]["scheduler"].step()
    saved = first["optimizer"].state_dict(), first["lr_scheduler"]["scheduler"].state_dict()
    resumed = with_schedule(torch.optim.Adam([weight], lr=1e-3), warmup_steps=2, drop_at=5)
    resumed["optimizer"].load_state_dict(saved[0])
    resumed["lr_scheduler"]["scheduler"].load_state_dict(saved[1])
    resumed["optimizer"].step()
    resumed["lr_scheduler"]["scheduler"].step()
    assert resumed["optimizer"].param_groups[0]["lr"] == pytest.approx(1e-4)


def test_the_modules_pass_the_drop_on(tmp_path: Path) -> None:
    teacher = make_teacher(tmp_path / "teacher.safetensors")
    student = MultiStyleNet(STYLES, (4, 8, 16), 1)
    adam = partial(torch.optim.Adam, lr=1e-3)
    module = DistillationModule(student, DistillationLoss(), adam, str(teacher), "tiny", lr_drop_at=0)
    assert module.configure_optimizers()["optimizer"].param_groups[0]["lr"] == pytest.approx(1e-4)
    reference = make_multi_module(tmp_path)
    multi = MultiStyleTransferModule(
        reference.net, reference.loss, reference.optimizer_factory, ["a", "b"], str(tmp_path), "ab", lr_drop_at=0
    )
    assert multi.configure_optimizers()["optimizer"].param_groups[0]["lr"] == pytest.approx(1e-4)
