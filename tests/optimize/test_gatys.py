import functools
import itertools
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hydra.utils import instantiate
from PIL import Image

from fst.config import compose_config
from fst.io.images import ImageReadError
from fst.losses.perceptual import PerceptualLoss
from fst.models.vgg import VGGFeatures
from fst.optimize.gatys import Objective, OptimizerFactory, initial_image, optimize_pixels
from fst.optimize.masks import MaskError
from fst.optimize.matting import PhotorealismLoss
from fst.optimize.pipeline import OptimizeJob, run
from tests.conftest import random_photo

LBFGS = instantiate(compose_config("optimize", ["pixel_optimizer=lbfgs"]).pixel_optimizer)  # optimize.py's


def tiny_loss() -> PerceptualLoss:
    torch.manual_seed(0)
    vgg = VGGFeatures("vgg19", weights="random", input_convention="caffe")
    return PerceptualLoss(vgg, ["relu2_1"], {"relu1_1": 1.0, "relu2_1": 1.0}, 1.0, 1e3)


@pytest.fixture
def images() -> tuple[torch.Tensor, torch.Tensor]:
    torch.manual_seed(1)
    return torch.rand(1, 3, 32, 32), torch.rand(1, 3, 40, 36)


@pytest.mark.parametrize(
    "optimizer",
    [LBFGS, functools.partial(torch.optim.Adam, lr=0.02), functools.partial(torch.optim.RMSprop, lr=0.005)],
    ids=["lbfgs", "adam", "rmsprop"],
)
def test_optimizer_reduces_the_loss(images: tuple[torch.Tensor, torch.Tensor], optimizer: OptimizerFactory) -> None:
    content, style = images
    loss = tiny_loss()
    goal = Objective(loss, loss.content_target(content), loss.style_target(style))
    result, history = optimize_pixels(goal, content, optimizer, iterations=15, progress=False)
    assert len(history) == 16  # before each step, plus the result
    assert history[-1]["total"] < 0.5 * history[0]["total"]
    assert result.shape == content.shape and result.min() >= 0 and result.max() <= 1


def test_extra_term_enters_the_total(images: tuple[torch.Tensor, torch.Tensor]) -> None:
    content, style = images
    loss = tiny_loss()
    extra = {"photorealism": PhotorealismLoss(content, weight=10.0)}
    goal = Objective(loss, loss.content_target(content), loss.style_target(style), extra)
    _, history = optimize_pixels(goal, content, LBFGS, iterations=3, progress=False)
    first = history[0]
    parts = first["content"] + first["style"] + first["tv"] + first["photorealism"]
    assert first["total"] == pytest.approx(parts, rel=1e-5)


def test_initialisation_is_seeded_and_mixed() -> None:
    content = torch.rand(1, 3, 8, 8)
    assert torch.equal(initial_image(content, "noise", seed=3), initial_image(content, "noise", seed=3))
    assert not torch.equal(initial_image(content, "noise", seed=3), initial_image(content, "noise", seed=4))
    noise = initial_image(content, "noise", seed=3)
    mixed = initial_image(content, "mix", noise_ratio=0.25, seed=3)
    assert torch.allclose(mixed, 0.25 * noise + 0.75 * content)
    with pytest.raises(ValueError, match="init must be"):
        initial_image(content, "zeros")  # type: ignore[arg-type]


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    paths = {"content": tmp_path / "content.jpg", "style": tmp_path / "style.png"}
    random_photo(48, 32, seed=0).save(paths["content"])
    random_photo(40, 40, seed=1).save(paths["style"])
    mask = np.zeros((32, 48, 3), dtype=np.uint8)
    mask[:, 24:] = (0, 255, 0)
    Image.fromarray(mask).save(tmp_path / "content_mask.png")
    style_mask = np.zeros((40, 40, 3), dtype=np.uint8)
    style_mask[:, :20] = (0, 255, 0)  # green on the other side: regions need not be where content's are
    Image.fromarray(style_mask).save(tmp_path / "style_mask.png")
    paths["content_mask"], paths["style_mask"] = tmp_path / "content_mask.png", tmp_path / "style_mask.png"
    return paths


def test_run_writes_result_intermediates_and_losses(files: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "out" / "result.png"
    job = OptimizeJob(
        str(files["content"]), [str(files["style"])], str(output),
        image_size=40, iterations=4, save_every=2, progress=False, preserve_color=True,
        content_segmentation=str(files["content_mask"]), style_segmentations=[str(files["style_mask"])],
        photorealism_weight=1.0,
    )  # fmt: skip
    result, history = run(job, tiny_loss(), LBFGS)
    assert result.shape == (1, 3, 27, 40)  # 48x32 content scaled to long side 40, aspect kept
    assert Image.open(output).size == (40, 27)
    assert (tmp_path / "out" / "result_iter0002.png").is_file()
    assert json.loads((tmp_path / "out" / "result_losses.json").read_text()) == history
    assert history[-1]["total"] < history[0]["total"]


def test_run_bad_inputs_are_one_line_errors(files: dict[str, Path], tmp_path: Path) -> None:
    broken = tmp_path / "broken.jpg"
    broken.write_bytes(b"\xff\xd8\xff truncated")
    wrong_mask = tmp_path / "wrong.png"
    Image.new("RGB", (10, 40)).save(wrong_mask)
    cases = [
        ({"content": str(tmp_path / "missing.jpg")}, ImageReadError, "missing.jpg"),
        ({"content": str(broken)}, ImageReadError, "broken.jpg"),
        ({"content_segmentation": str(wrong_mask)}, MaskError, "wrong.png"),
    ]
    for override, error_type, name in cases:
        kwargs = {
            "content": str(files["content"]),
            "content_segmentation": str(files["content_mask"]),
            "style_segmentations": [str(files["style_mask"])],
            **override,
        }
        job = OptimizeJob(
            styles=[str(files["style"])], output=str(tmp_path / "o.png"), image_size=32, iterations=1,
            progress=False, **kwargs,
        )  # fmt: skip
        with pytest.raises(error_type) as error:
            run(job, tiny_loss(), LBFGS)
        assert name in str(error.value) and "\n" not in str(error.value)


def test_job_rejects_half_a_segmentation_pair() -> None:
    with pytest.raises(ValueError, match="together"):
        OptimizeJob("c.jpg", ["s.jpg"], "o.png", content_segmentation="c.png")
    with pytest.raises(ValueError, match="2 styles but 1"):
        OptimizeJob("c.jpg", ["a.jpg", "b.jpg"], "o.png", content_segmentation="c.png", style_segmentations=["a.png"])


@pytest.mark.parametrize("scale", [1.0, 1e8])
def test_lbfgs_steps_do_not_depend_on_the_loss_scale(scale: float) -> None:
    """Photo pairs 5 and 21 diverged: while L-BFGS holds no curvature pair (y.s <= 1e-10, here a
    loss linear along the first steps) it steps lr x gradient, 1e5 a pixel at the photo loss's
    1e8 scale, and the pixels were thrown to 0 or 1. The optimiser now sees a scale-free total."""
    start = torch.full((1, 3, 8, 8), 0.8)

    def objective(image: torch.Tensor) -> dict[str, torch.Tensor]:
        # Linear beyond 0.1 of the minimum at 0.5, quadratic within.
        return {"total": scale * F.huber_loss(image, torch.full_like(image, 0.5), delta=0.1)}

    result, history = optimize_pixels(objective, start, LBFGS, iterations=20, progress=False)
    totals = [record["total"] for record in history]
    assert all(later <= earlier for earlier, later in itertools.pairwise(totals))
    assert totals[-1] < 1e-3 * totals[0]
    assert (result - 0.5).abs().max() < 0.01
