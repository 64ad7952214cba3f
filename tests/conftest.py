"""Shared fixtures.  Data beside the project (../shared) is read in place; tests that need it skip
with the reason when it is absent."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
# ../shared beside the checkout; LIC_BENCH_SHARED names it for a checkout elsewhere (a git worktree)
SHARED = Path(os.environ.get("LIC_BENCH_SHARED") or Path(__file__).resolve().parents[2] / "shared")
KODAK = SHARED / "datasets" / "kodak"
REFERENCE = SHARED / "reference" / "compressai-results" / "image" / "kodak"


def natural_crop(h: int, w: int, name: str = "astronaut") -> np.ndarray:
    """A crop of a photo bundled with scikit-image: real texture, no download."""
    from skimage import data

    img = getattr(data, name)()
    return np.ascontiguousarray(img[:h, :w, :3])


@pytest.fixture
def photo():
    return natural_crop


@pytest.fixture
def kodak_dir():
    if not (KODAK / "kodim01.png").is_file():
        pytest.skip(f"Kodak images not found at {KODAK} (../shared/datasets/kodak beside the project)")
    return KODAK


@pytest.fixture
def ffmpeg_with(request):
    from bench.core.ffmpeg import has_encoder

    def need(encoder: str):
        if not has_encoder(encoder):
            pytest.skip(f"the pinned ffmpeg has no {encoder} encoder")

    return need
