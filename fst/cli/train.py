"""Train a style: `fst-train experiment=<style> [trainer=gpu] [key=value ...]` (or `python train.py ...`).

Read top to bottom, `fit` shows how the project fits together: data, net, loss, module, trainer.

The configs ship in the package (`fst/conf`, `fst.resources.config_dir()`); yours go around them:

- any value on the command line: `fst-train experiment=udnie data.batch_size=8 paths.assets=/data/assets`;
- a config dir of your own, whose files join the package's groups:
  `fst-train --config-dir ~/fst-conf experiment=my_style` reads `~/fst-conf/experiment/my_style.yaml`
  (Hydra searches it after the package's, so a shipped name still wins: give yours new names);
- the config as composed, without training: `fst-train experiment=udnie --cfg job`.
"""

from __future__ import annotations

import warnings

import hydra
import lightning as L
from hydra.utils import instantiate
from lightning.pytorch.callbacks import LearningRateMonitor
from omegaconf import DictConfig

from fst.checkpoint import CheckpointError
from fst.config import register_resolvers, user_errors
from fst.io.images import ImageReadError
from fst.models.vgg import VGGWeightsError
from fst.resources import config_dir

register_resolvers()


# An absolute path: the same configs whichever script, console script or `python -m` starts the run.
@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="train")
def main(cfg: DictConfig) -> None:
    with user_errors(VGGWeightsError, ImageReadError, CheckpointError, FileNotFoundError):
        fit(cfg)


def build(cfg: DictConfig) -> tuple[L.LightningDataModule, L.LightningModule]:
    """The run's data and module: the net, its loss and its optimizer inside the Lightning module."""
    datamodule = instantiate(cfg.data, _convert_="all")
    # Plain lists and dicts (_convert_): the module's hyperparameters go into checkpoints, and
    # torch.load(weights_only=True) refuses OmegaConf containers on resume.
    module = instantiate(
        cfg.module,
        _convert_="all",
        net=instantiate(cfg.model, _convert_="all"),
        loss=instantiate(cfg.loss, _convert_="all"),
        optimizer=instantiate(cfg.optimizer, _convert_="all"),
    )
    return datamodule, module


def fit(cfg: DictConfig) -> None:
    # Resume is exact with no data state: the stream restarts at the restored step
    # (PhotoDataModule.train_dataloader), so this Lightning warning would only mislead.
    warnings.filterwarnings("ignore", message="You're resuming from a checkpoint that ended before the epoch ended")
    L.seed_everything(cfg.seed, workers=True)
    datamodule, module = build(cfg)
    logger = instantiate(cfg.logger) if cfg.get("logger") else False
    callbacks = [instantiate(callback) for callback in cfg.callbacks.values()]
    if not logger:  # `~logger`: Lightning refuses a learning-rate monitor with nowhere to write
        callbacks = [callback for callback in callbacks if not isinstance(callback, LearningRateMonitor)]
    trainer = instantiate(cfg.trainer, logger=logger, callbacks=callbacks)
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)


if __name__ == "__main__":
    main()
