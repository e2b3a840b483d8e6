"""Gatys/Luan optimisation: `fst-optimize run.content=PATH run.styles=[PATH] [key=value ...]` (or `python optimize.py`).

The configs ship in the package (`fst/conf/optimize.yaml`); override values on the command line or
add a config dir of your own with `--config-dir DIR` (see `fst.cli.train`).
"""

from __future__ import annotations

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig

from fst.config import register_resolvers, user_errors
from fst.io.images import ImageReadError
from fst.models.vgg import VGGWeightsError
from fst.optimize.masks import MaskError
from fst.optimize.pipeline import run
from fst.resources import config_dir

register_resolvers()


@hydra.main(version_base="1.3", config_path=str(config_dir()), config_name="optimize")
def main(cfg: DictConfig) -> None:
    # A bad file or setting is one line on stderr and exit status 2, not a traceback.
    with user_errors(ImageReadError, MaskError, VGGWeightsError, FileNotFoundError):
        job = instantiate(cfg.run, _convert_="all")
        run(job, instantiate(cfg.loss, _convert_="all"), instantiate(cfg.pixel_optimizer, _convert_="all"))


if __name__ == "__main__":
    main()
