from functools import partial
from pathlib import Path

import pytest
import torch

from fst.checkpoint import CheckpointError, export
from fst.losses.distill import DistillationLoss
from fst.models.multistyle import MultiStyleNet
from fst.models.transformer import TransformerNet
from fst.models.vgg import VGGFeatures
from fst.training.distill_module import DistillationModule

STYLES = ["first", "second", "third"]


def make_teacher(path: Path, seed: int = 0) -> Path:
    """A small exported multi-style net whose styles differ (random norm rows)."""
    torch.manual_seed(seed)
    net = MultiStyleNet(STYLES, (8, 16, 32), 1)
    with torch.no_grad():
        for norm in net.norms:
            norm.weight.normal_(1.0, 0.5)
            norm.bias.normal_(0.0, 0.5)
    metadata = {
        "styles": [{"name": name, "file": f"{name}.jpg", "sha256": "0" * 64} for name in STYLES],
        "loss": {"content_layers": ["relu4_2"], "relative": True},
        "steps": 123,
    }
    return export(net, path, metadata)


def make_module(
    tmp_path: Path,
    teacher: Path | None = None,
    styles: list[str] = STYLES,
    init_from: Path | None = None,
    student: MultiStyleNet | None = None,
    init_partial: bool = False,
) -> DistillationModule:
    teacher = teacher or make_teacher(tmp_path / "teacher.safetensors")
    torch.manual_seed(1)
    vgg = VGGFeatures("vgg19", weights="random", input_convention="caffe")
    loss = DistillationLoss(vgg, feature_layers={"relu1_1": 1.0, "relu2_1": 1.0}, feature_weight=0.05)
    student = student or MultiStyleNet(styles, (4, 8, 16), 1)
    optimizer = partial(torch.optim.Adam, lr=3e-3)
    return DistillationModule(
        student,
        loss,
        optimizer,
        str(teacher),
        "tiny",
        init_from=init_from and str(init_from),
        init_partial=init_partial,
    )


def test_the_teacher_gets_no_gradients_and_the_student_does(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    batch = torch.rand(3, 3, 24, 24)
    target, stylized = module.outputs(batch, torch.arange(3))
    module.loss(stylized, target)["total"].backward()
    assert not target.requires_grad
    assert all(p.grad is None and not p.requires_grad for p in module.teacher_net.parameters())
    assert all(p.grad is not None for p in module.net.parameters())
    optimizer = module.configure_optimizers()
    trained = {id(p) for group in optimizer.param_groups for p in group["params"]}
    assert trained == {id(p) for p in module.net.parameters()}


def test_loss_goes_down_on_a_fixed_batch(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    optimizer = module.configure_optimizers()
    batch, styles = torch.rand(3, 3, 24, 24), torch.arange(3)
    losses = []
    for _ in range(40):
        optimizer.zero_grad()
        target, stylized = module.outputs(batch, styles)
        total = module.loss(stylized, target)["total"]
        total.backward()
        optimizer.step()
        losses.append(total.item())
    assert losses[-1] < 0.5 * losses[0], losses[::8]


def test_the_teacher_stays_in_eval_mode(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    module.train()
    assert module.net.training and not module.teacher_net.training


def test_checkpoint_state_holds_only_the_student(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    keys = list(module.state_dict())
    assert keys and all(k.startswith("net.") for k in keys)
    other = make_module(tmp_path)
    other.load_state_dict(module.state_dict())
    x = torch.rand(1, 3, 16, 16)
    assert torch.equal(module.net.eval()(x, torch.tensor([1])), other.net.eval()(x, torch.tensor([1])))


def test_a_student_with_other_styles_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="differ from the student's"):
        make_module(tmp_path, styles=["first", "third", "second"])


def test_resuming_with_another_teacher_is_refused(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    checkpoint: dict = {}
    module.on_save_checkpoint(checkpoint)
    module.on_load_checkpoint(checkpoint)  # the same teacher: fine
    other = make_module(tmp_path, teacher=make_teacher(tmp_path / "other.safetensors", seed=5))
    with pytest.raises(CheckpointError, match=r"other\.safetensors: not the teacher this run started with"):
        other.on_load_checkpoint(checkpoint)


def test_a_new_teacher_starts_from_the_last_student(tmp_path: Path) -> None:
    last = make_module(tmp_path)
    with torch.no_grad():
        for parameter in last.net.parameters():
            parameter.add_(0.1)  # a trained student, unlike a fresh one
    student_file = export(last.net, tmp_path / "student.safetensors", last.style_metadata())
    newer = make_teacher(tmp_path / "newer.safetensors", seed=7)
    following = make_module(tmp_path, teacher=newer, init_from=student_file)
    for a, b in zip(last.net.state_dict().values(), following.net.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    with pytest.raises(RuntimeError, match="size mismatch"):  # a full-width file is no student's start
        make_module(tmp_path, teacher=newer, init_from=newer)


def test_a_student_of_another_layout_keeps_the_shared_trunk(tmp_path: Path) -> None:
    last = make_module(tmp_path)
    with torch.no_grad():
        for parameter in last.net.parameters():
            parameter.add_(0.1)
    student_file = export(last.net, tmp_path / "student.safetensors", last.style_metadata())
    torch.manual_seed(3)
    fresh = MultiStyleNet(STYLES, (8, 16), 1, space_to_depth=True)
    before = {k: v.clone() for k, v in fresh.state_dict().items()}
    following = make_module(tmp_path, init_from=student_file, student=fresh, init_partial=True)
    kept, started = last.net.state_dict(), following.net.state_dict()
    trunk = [k for k in started if k.startswith(("encoder.2.", "residuals.", "decoder.0."))]
    assert trunk and all(torch.equal(started[k], kept[k]) for k in trunk)
    assert torch.equal(started["encoder.1.0.1.weight"], before["encoder.1.0.1.weight"])  # the new entry conv
    # ... and its bias, though a bias of that shape sits at the same name in the other layout.
    assert kept["encoder.1.0.1.bias"].shape == started["encoder.1.0.1.bias"].shape
    assert torch.equal(started["encoder.1.0.1.bias"], before["encoder.1.0.1.bias"])
    with pytest.raises(RuntimeError, match=r"size mismatch|Missing key|Unexpected key"):  # not without asking
        make_module(tmp_path, init_from=student_file, student=MultiStyleNet(STYLES, (8, 16), 1, space_to_depth=True))


def test_exported_metadata_describes_the_teachers_styles(tmp_path: Path) -> None:
    module = make_module(tmp_path)
    metadata = module.style_metadata()
    assert [s["name"] for s in metadata["styles"]] == STYLES
    assert metadata["loss"] == {"content_layers": ["relu4_2"], "relative": True}  # what defines the styles
    assert metadata["distilled_from"]["file"] == "teacher.safetensors"
    assert metadata["distilled_from"]["steps"] == 123
    assert len(metadata["distilled_from"]["sha256"]) == 64
    assert metadata["distillation"]["feature_weight"] == 0.05


def test_a_single_style_teacher_teaches_a_plain_net(tmp_path: Path) -> None:
    teacher = export(TransformerNet((8, 16, 32), 1), tmp_path / "single.safetensors", {"style": {"name": "s"}})
    loss = DistillationLoss(pixel_weight=1.0)
    module = DistillationModule(TransformerNet((4, 8, 16), 1), loss, torch.optim.Adam, str(teacher), "s_half")
    target, stylized = module.outputs(torch.rand(2, 3, 16, 16), torch.zeros(2, dtype=torch.long))
    assert target.shape == stylized.shape == (2, 3, 16, 16)
    assert module.style_metadata()["style"] == {"name": "s"}
