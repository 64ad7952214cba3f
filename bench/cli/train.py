"""`bench train key=value ...`: train a CompressAI image model (Hydra config `conf/train.yaml`).

    bench train arch=bmshj2018-hyperprior N=96 M=128 lmbda=0.013 steps=30000
    bench train lmbda=0.0067 steps=4000 init_from=path/to/base.pth.tar
"""

from __future__ import annotations

import hydra
from omegaconf import DictConfig

from bench.cli.common import user_errors
from bench.core.assets import conf_dir
from bench.training.train import train


@hydra.main(version_base="1.3", config_path=str(conf_dir()), config_name="train")
@user_errors(exit=True)
def _main(cfg: DictConfig) -> None:
    train(cfg)


def main() -> int:
    _main()
    return 0
