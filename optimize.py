"""Gatys/Luan optimisation: `python optimize.py run.content=PATH run.styles=[PATH] [key=value ...]`."""

from __future__ import annotations

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from fst.config import register_resolvers

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="optimize")
def main(cfg: DictConfig) -> None:
    run = instantiate(cfg.run, _convert_="all")
    run(
        loss=instantiate(cfg.loss, _convert_="all"),
        optimizer=instantiate(cfg.pixel_optimizer, _convert_="all"),
    )


if __name__ == "__main__":
    main()
