"""Every optimize.py config composes and instantiates; a slow end-to-end run on the real assets."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, open_dict

from fst.config import register_resolvers
from fst.losses.perceptual import PerceptualLoss
from fst.optimize.pipeline import OptimizeJob, run
from fst.resources import config_dir

register_resolvers()


def compose_optimize(overrides: list[str]) -> DictConfig:
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(config_dir()), version_base="1.3"):
        cfg = compose("optimize", overrides=overrides, return_hydra_config=True)
    with open_dict(cfg):
        cfg.hydra.runtime.output_dir = "/tmp/unused"  # run.output is ${hydra:runtime.output_dir}/...
    HydraConfig.instance().set_config(cfg)  # resolves ${hydra:...} outside a @hydra.main run
    return cfg


@pytest.mark.parametrize("loss", ["gatys_vgg19", "gatys_vgg16_torchvision", "caffe_vgg19"])
@pytest.mark.parametrize("optimizer", ["lbfgs", "adam", "rmsprop"])
@pytest.mark.parametrize("preset", [None, "photorealistic", "photorealistic_two_pass", "gatys2015"])
def test_config_instantiates(loss: str, optimizer: str, preset: str | None) -> None:
    overrides = [f"loss={loss}", f"pixel_optimizer={optimizer}", "loss.vgg.weights=random"]
    cfg = compose_optimize(overrides + ([f"preset={preset}"] if preset else []))
    built = instantiate(cfg.loss, _convert_="all")
    assert isinstance(built, PerceptualLoss)
    opt = instantiate(cfg.pixel_optimizer, _convert_="all")([torch.zeros(1, requires_grad=True)])
    assert isinstance(opt, torch.optim.Optimizer)
    assert isinstance(instantiate(cfg.run, _convert_="all"), OptimizeJob)


@pytest.mark.parametrize(
    ("preset", "expected"),
    [
        ("photorealistic", {"photorealism_weight": 1e8, "init": "content", "image_size": 512}),
        ("gatys2015", {"init": "noise", "iterations": 1000}),
        ("photorealistic_two_pass", {"photorealism_weight": 1e8, "first_pass_iterations": 500, "iterations": 500}),
    ],
)
def test_presets_take_effect(preset: str, expected: dict) -> None:
    # optimize.yaml once listed `_self_` last, so its `run` values silently undid every preset.
    run = compose_optimize([f"preset={preset}"]).run
    assert {key: run[key] for key in expected} == expected


@pytest.mark.slow
def test_end_to_end_on_real_assets(assets: Path, vgg_file: Path, tmp_path: Path) -> None:
    cfg = compose_optimize(["preset=photorealistic", "run.image_size=64", "run.iterations=5", "run.progress=false"])
    seg = assets / "photo_style" / "segmentation"
    photo = assets / "photo_style"
    job = instantiate(
        cfg.run,
        content=str(photo / "input" / "in1.jpg"),
        styles=[str(photo / "style" / "tar1.jpg")],
        content_segmentation=str(seg / "in1.png"),
        style_segmentations=[str(seg / "tar1.png")],
        output=str(tmp_path / "result.png"),
        _convert_="all",
    )
    loss, optimizer = instantiate(cfg.loss, _convert_="all"), instantiate(cfg.pixel_optimizer, _convert_="all")
    result, history = run(job, loss, optimizer)
    assert result.shape[-1] == 64 and (tmp_path / "result.png").is_file()
    assert history[-1]["total"] < history[0]["total"]


def test_two_passes_add_the_photorealism_term_only_in_the_second(assets: Path, tmp_path: Path) -> None:
    cfg = compose_optimize(
        ["preset=photorealistic_two_pass", "loss.vgg.weights=random", "run.image_size=32", "run.progress=false"]
    )
    photo = assets / "photo_style"
    job = instantiate(
        cfg.run,
        content=str(photo / "input" / "in1.jpg"),
        styles=[str(photo / "style" / "tar1.jpg")],
        output=str(tmp_path / "result.png"),
        first_pass_iterations=3,
        iterations=2,
        _convert_="all",
    )
    loss, optimizer = instantiate(cfg.loss, _convert_="all"), instantiate(cfg.pixel_optimizer, _convert_="all")
    _, history = run(job, loss, optimizer)
    assert len(history) == 3 + 2 + 1  # each pass's iterations, then the result's terms
    assert ["photorealism" in record for record in history] == [False] * 3 + [True] * 3
