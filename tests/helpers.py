"""Helpers for tests that run sweeps: a small folder dataset and a composed config."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from bench.core.assets import conf_dir

ROOT = Path(__file__).resolve().parents[1]


def write_photos(folder: Path, sizes=((64, 96), (65, 97))) -> Path:
    from skimage import data

    folder.mkdir(parents=True, exist_ok=True)
    src = data.astronaut()
    for i, (h, w) in enumerate(sizes):
        Image.fromarray(np.ascontiguousarray(src[40 * i : 40 * i + h, 50 * i : 50 * i + w])).save(folder / f"p{i}.png")
    return folder


def compose(overrides: list[str]):
    from hydra import compose as hcompose
    from hydra import initialize_config_dir

    with initialize_config_dir(config_dir=str(conf_dir()), version_base="1.3"):
        return hcompose("config", overrides=overrides)


def bench_cli(args: list[str], cwd: Path, env: dict | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "bench", *args], cwd=cwd, env=full_env, capture_output=True, text=True, timeout=timeout)
