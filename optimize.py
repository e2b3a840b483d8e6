"""Gatys/Luan optimisation: `python optimize.py run.content=PATH run.styles=[PATH] [key=value ...]`."""

from __future__ import annotations

import hydra
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from omegaconf import DictConfig

from fst.config import register_resolvers
from fst.io.images import ImageReadError
from fst.losses.vgg import VGGWeightsError
from fst.optimize.masks import MaskError

register_resolvers()


@hydra.main(version_base="1.3", config_path="conf", config_name="optimize")
def main(cfg: DictConfig) -> None:
    run = instantiate(cfg.run, _convert_="all")
    try:
        run(loss=instantiate(cfg.loss, _convert_="all"), optimizer=instantiate(cfg.pixel_optimizer, _convert_="all"))
    except (ImageReadError, MaskError, VGGWeightsError, InstantiationException) as error:
        # One line naming the bad file or setting, not a traceback (Hydra wraps constructor errors).
        cause = error.__cause__ if isinstance(error, InstantiationException) and error.__cause__ else error
        raise SystemExit(f"optimize.py: {str(cause).splitlines()[0]}") from None


if __name__ == "__main__":
    main()
