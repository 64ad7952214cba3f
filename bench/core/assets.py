"""Where lic-bench's own files are: the Hydra configs (`conf/`), codec assets (`codecs/`: HM/VTM cfg
files, demo checkpoints) and dataset manifests (`datasets/`), plus the user's cache folder.

In the source tree those folders sit beside the `bench` package (the design card's layout).  A wheel
carries them inside the package as `bench/assets/{conf,codecs,datasets}` (pyproject.toml maps them
there), read through importlib.resources.  `root()` finds whichever is present, so an editable
checkout, a wheel and a path install behave the same.  Results never go here: they go under the
current folder (or `results_root`); downloads and converted weights go under `cache_dir()`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from importlib import resources
from pathlib import Path

from bench.core.errors import BenchError

FOLDERS = ("conf", "codecs", "datasets")


@lru_cache(maxsize=1)
def root() -> Path:
    """The folder holding conf/, codecs/ and datasets/."""
    packaged = Path(str(resources.files("bench"))) / "assets"
    if (packaged / "conf" / "config.yaml").is_file():
        return packaged
    source = Path(__file__).resolve().parents[2]
    if (source / "conf" / "config.yaml").is_file():
        return source
    raise BenchError(f"lic-bench's configuration files are missing (looked in {packaged} and {source}); reinstall the package")


def conf_dir() -> Path:
    return root() / "conf"


def codecs_dir() -> Path:
    return root() / "codecs"


def datasets_dir() -> Path:
    return root() / "datasets"


def asset(relative: str | os.PathLike) -> Path:
    """A path given relative to the asset root (e.g. 'codecs/demo/manifest.json') made absolute."""
    p = Path(relative)
    return p if p.is_absolute() else root() / p


def user_or_asset(path: str | os.PathLike) -> Path:
    """A user's path (absolute, ~, or relative to the current folder) when it exists there, else the
    packaged asset of that relative name: `codec.params.manifest=my/manifest.json` and the shipped
    `codecs/demo/manifest.json` both work from any folder."""
    p = Path(os.path.expanduser(str(path)))
    if p.is_absolute():
        return p
    here = Path.cwd() / p
    return here if here.exists() else root() / p


def cache_dir(*parts: str) -> Path:
    """$BENCH_CACHE, else $XDG_CACHE_HOME/lic-bench, else ~/.cache/lic-bench; with sub-folders."""
    base = os.environ.get("BENCH_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache"), "lic-bench")
    return Path(base).joinpath(*parts)
