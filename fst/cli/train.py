"""Train a style: `python train.py experiment=<style> [trainer=gpu] [key=value ...]` (see README)."""

from __future__ import annotations

import hydra
import lightning as L
from hydra.utils import instantiate
from omegaconf import DictConfig

from fst.checkpoint import CheckpointError
from fst.config import register_resolvers, user_errors
from fst.io.images import ImageReadError
from fst.models.vgg import VGGWeightsError

register_resolvers()


@hydra.main(version_base="1.3", config_path="fst/conf", config_name="train")
def main(cfg: DictConfig) -> None:
    with user_errors(VGGWeightsError, ImageReadError, CheckpointError, FileNotFoundError):
        fit(cfg)


def fit(cfg: DictConfig) -> None:
    L.seed_everything(cfg.seed, workers=True)
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
    trainer = instantiate(
        cfg.trainer,
        logger=instantiate(cfg.logger),
        callbacks=[instantiate(callback) for callback in cfg.callbacks.values()],
    )
    trainer.fit(module, datamodule=datamodule, ckpt_path=cfg.ckpt_path)


if __name__ == "__main__":
    main()
