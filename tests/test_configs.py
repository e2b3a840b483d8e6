"""Every config group option and experiment preset composes and instantiates."""

from pathlib import Path

import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import open_dict, read_write

from fst.checkpoint import export
from fst.config import register_resolvers
from fst.models.transformer import TransformerNet
from fst.resources import config_dir

register_resolvers()
CONF = config_dir()
MULTI_STYLE_EXPERIMENTS = ["add_style", "six_paintings", "six_paintings_bold", "six_paintings_distill"]
ARBITRARY = "adain"  # arbitrary style transfer: its own experiment, model, loss (tested below)
EXPERIMENTS = sorted(
    p.stem for p in (CONF / "experiment").glob("*.yaml") if p.stem not in [*MULTI_STYLE_EXPERIMENTS, ARBITRARY]
)
DISTILL = "distill"  # a student against its teacher: no style target (tested below)
LOSSES = sorted(p.stem for p in (CONF / "loss").glob("*.yaml") if not p.stem.startswith((ARBITRARY, DISTILL)))
TRAINERS = sorted(p.stem for p in (CONF / "trainer").glob("*.yaml"))
MODELS = sorted(p.stem for p in (CONF / "model").glob("*.yaml") if p.stem != ARBITRARY)


def compose_train(overrides: list[str], tmp_path: Path):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("train", overrides=overrides, return_hydra_config=True)
    with read_write(cfg.hydra), open_dict(cfg.hydra):
        cfg.hydra.runtime.output_dir = str(tmp_path)
    HydraConfig.instance().set_config(cfg)  # lets ${hydra:runtime.output_dir} resolve
    return cfg


def test_the_six_public_domain_styles_have_presets() -> None:
    assert {
        "starry_night",
        "the_scream",
        "the_great_wave",
        "udnie",
        "composition_vii",
        "the_shipwreck_of_the_minotaur",
    } <= set(EXPERIMENTS)


def test_defaults_are_the_papers(tmp_path: Path) -> None:
    cfg = compose_train([], tmp_path)
    assert cfg.data.image_size == 256 and cfg.data.batch_size == 4
    assert cfg.trainer.max_steps == 40_000 and cfg.optimizer.lr == 1e-3


@pytest.mark.parametrize("experiment", EXPERIMENTS)
def test_experiment_presets_take_effect(experiment: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # The preset must set what it names: style, painting, run directory and exported file name
    # (train.yaml once listed `_self_` last, so every preset trained starry_night).
    monkeypatch.setenv("FST_RUN_ID", "preset-test")
    cfg = compose_train([f"experiment={experiment}"], tmp_path)
    assert cfg.style == experiment
    assert Path(cfg.style_image).name == f"{experiment}.jpg"
    assert cfg.module.style_image == cfg.style_image
    assert cfg.module.style_name == experiment  # names <style>.safetensors (fst/training/callbacks.py)
    assert Path(cfg.hydra.run.dir).parts[-2:] == (experiment, "preset-test")
    instantiate(cfg.model, _convert_="all")


def test_six_paintings_trains_one_net_on_every_shipped_painting(tmp_path: Path, assets: Path) -> None:
    cfg = compose_train(["experiment=six_paintings"], tmp_path)
    paintings = sorted(p.stem for p in (assets / "styles").glob("*.jpg"))
    assert cfg.module.styles == paintings and cfg.module.name == cfg.style == "six_paintings"
    net = instantiate(cfg.model, _convert_="all")
    assert net.style_names == paintings and not cfg.module.train_styles


def test_add_style_grows_the_base_and_trains_only_the_new_style(tmp_path: Path) -> None:
    # A single-style base (tests/test_train.py grows a multi-style one): its one style comes first.
    base = tmp_path / "starry_night.safetensors"
    export(TransformerNet(channels=[8, 16, 32], num_residual_blocks=1), base, {"style": {"name": "starry_night"}})
    overrides = ["experiment=add_style", f"base={base}", "new_styles=[/photos/my_painting.png]", "style=grown"]
    cfg = compose_train(overrides, tmp_path)
    assert cfg.module.styles == ["starry_night", "/photos/my_painting.png"]
    assert cfg.module.train_styles == ["my_painting"] and cfg.module.init_from == str(base)
    assert instantiate(cfg.model, _convert_="all").style_names == ["starry_night", "my_painting"]


def test_schedule_overrides_the_train_defaults(tmp_path: Path) -> None:
    cfg = compose_train(["schedule=cpu", "experiment=udnie"], tmp_path)
    assert (cfg.style, cfg.data.image_size, cfg.module.log_images_every_n_steps) == ("udnie", 128, 250)


@pytest.mark.parametrize("loss", LOSSES)
def test_loss_presets_instantiate(loss: str, tmp_path: Path) -> None:
    cfg = compose_train([f"loss={loss}", "loss.vgg.weights=random"], tmp_path)
    module = instantiate(cfg.loss, _convert_="all")
    style = module.style_target(torch.rand(1, 3, 32, 32))
    terms = module(torch.rand(1, 3, 32, 32), torch.rand(1, 3, 32, 32), style)
    assert set(terms) == {"content", "style", "tv", "total"}


@pytest.mark.parametrize("model", MODELS)
def test_models_instantiate(model: str, tmp_path: Path) -> None:
    net = instantiate(compose_train([f"model={model}"], tmp_path).model, _convert_="all")
    assert net(torch.rand(1, 3, 12, 12)).shape == (1, 3, 12, 12)


@pytest.mark.parametrize("trainer", TRAINERS)
def test_trainers_instantiate(trainer: str, tmp_path: Path) -> None:
    cfg = compose_train([f"trainer={trainer}"], tmp_path)
    if cfg.trainer.accelerator == "gpu" and not torch.cuda.is_available():
        assert cfg.trainer.precision == "bf16-mixed"
        return
    built = instantiate(cfg.trainer, logger=False, enable_checkpointing=False)
    assert built.max_steps == 40_000


def test_callbacks_and_logger_write_into_the_run_directory(tmp_path: Path) -> None:
    cfg = compose_train([], tmp_path)
    assert cfg.callbacks.checkpoint.dirpath == str(tmp_path / "checkpoints")
    assert cfg.logger.save_dir == str(tmp_path)
    for callback in cfg.callbacks.values():
        instantiate(callback)


def test_resumed_run_continues_in_its_own_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from fst.config import run_dir

    monkeypatch.setenv("FST_RUN_ID", "fresh")
    run = tmp_path / "runs" / "style" / "old"
    (run / ".hydra").mkdir(parents=True)
    (run / "checkpoints").mkdir()
    assert run_dir(str(run / "checkpoints" / "last.ckpt"), "runs/style") == str(run)
    assert run_dir(None, "runs/style") == "runs/style/fresh"
    assert run_dir(str(tmp_path / "elsewhere.ckpt"), "runs/style") == "runs/style/fresh"


@pytest.mark.parametrize("schedule", [None, "adain_cpu", "paper"])
def test_adain_experiment_builds_its_parts(
    schedule: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from fst.data.datamodule import ContentStyleDataModule
    from fst.losses.adain import AdaINLoss
    from fst.models.adain import AdaINModel
    from fst.training.adain_module import AdaINModule

    monkeypatch.setenv("FST_RUN_ID", "adain-test")
    chosen = [f"schedule={schedule}"] if schedule else []  # None: the preset's default, the CPU schedule
    cfg = compose_train(["experiment=adain", *chosen, "model.vgg_weights=random"], tmp_path)
    assert cfg.style == "adain" and Path(cfg.hydra.run.dir).parts[-2:] == ("adain", "adain-test")
    assert cfg.module.lr_decay == 5e-5 and cfg.loss.style_weight == 10.0
    from fst.device import training_precision

    cpu = (128, 256, 8, 20_000, training_precision("cpu"), 3e-4)
    paper = (256, 512, 8, 160_000, "32-true", 1e-4)  # Huang's
    expected = {None: cpu, "adain_cpu": cpu, "paper": paper}[schedule]
    data_cfg, trainer = cfg.data, cfg.trainer
    got = (data_cfg.image_size, data_cfg.resize_to, data_cfg.batch_size, trainer.max_steps, trainer.precision)
    assert (*got, cfg.optimizer.lr) == expected
    data = instantiate(cfg.data, _convert_="all")
    net = instantiate(cfg.model, _convert_="all")
    loss = instantiate(cfg.loss, _convert_="all")
    module = instantiate(cfg.module, _convert_="all", net=net, loss=loss, optimizer=instantiate(cfg.optimizer))
    assert isinstance(data, ContentStyleDataModule) and isinstance(net, AdaINModel)
    assert isinstance(loss, AdaINLoss) and isinstance(module, AdaINModule) and module.style_name == "adain"
    assert loss.layer_weights == dict.fromkeys(["relu1_1", "relu2_1", "relu3_1", "relu4_1"], 1.0)  # the paper's


def test_balanced_adain_loss_weights_the_low_layers_up(tmp_path: Path) -> None:
    from fst.losses.adain import AdaINLoss

    cfg = compose_train(["experiment=adain", "loss=adain_balanced"], tmp_path)
    loss = instantiate(cfg.loss, _convert_="all")
    assert isinstance(loss, AdaINLoss) and loss.style_weight == 5.0
    weights = list(loss.layer_weights.values())
    assert list(loss.layer_weights) == ["relu1_1", "relu2_1", "relu3_1", "relu4_1"]
    assert weights == sorted(weights, reverse=True) and weights[-1] == 1.0


def test_six_paintings_bold_trains_the_shipped_net_with_deep_layers_weighted_up(tmp_path: Path) -> None:
    cfg = compose_train(["experiment=six_paintings_bold", "schedule=cpu"], tmp_path)
    base = compose_train(["experiment=six_paintings"], tmp_path)
    assert cfg.style == "six_paintings" and cfg.module.styles == base.module.styles  # exports the same file
    assert (cfg.data.image_size, cfg.data.resize_to) == (256, 256)  # not the CPU schedule's 128
    layers = cfg.loss.style_layers
    assert cfg.loss.relative and layers["relu4_1"] > layers["relu1_1"] and layers["relu5_1"] > layers["relu1_1"]


@pytest.mark.parametrize("schedule", [None, "paper"])
def test_six_paintings_distill_builds_a_half_width_student_of_the_shipped_file(
    schedule: str | None, tmp_path: Path
) -> None:
    from fst.checkpoint import styles_in
    from fst.resources import checkpoints_dir

    chosen = [f"schedule={schedule}"] if schedule else []
    cfg = compose_train(["experiment=six_paintings_distill", *chosen, "loss.vgg.weights=random"], tmp_path)
    teacher = checkpoints_dir() / "six_paintings.safetensors"
    assert cfg.module.teacher == str(teacher) and cfg.module.name == "six_paintings_half"
    if schedule is None:  # distill_cpu: every style once per step, a CPU-sized run
        assert (cfg.data.image_size, cfg.data.batch_size, cfg.trainer.max_steps) == (160, 6, 4000)
    else:
        assert (cfg.data.image_size, cfg.trainer.max_steps) == (256, 40_000)
    net = instantiate(cfg.model, _convert_="all")
    assert net.style_names == styles_in(teacher) and net.channels == [16, 32, 64]
    module = instantiate(
        cfg.module,
        _convert_="all",
        net=net,
        loss=instantiate(cfg.loss, _convert_="all"),
        optimizer=instantiate(cfg.optimizer, _convert_="all"),
    )
    target, stylized = module.outputs(torch.rand(2, 3, 32, 32), torch.tensor([0, 5]))
    assert set(module.loss(stylized, target)) == {"pixel", "features", "gram", "total"}
