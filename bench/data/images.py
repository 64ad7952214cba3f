"""Reading test pictures: one place that decides what "the original" is."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from bench.core.errors import BenchError


@lru_cache(maxsize=64)
def load_rgb(path: str) -> np.ndarray:
    """8-bit RGB (H, W, 3), read-only.  Cached per process: a worker codes several points per image.

    Pictures that are not 8-bit RGB are converted by Pillow (palette, grey, alpha dropped); the
    datasets we ship are all 8-bit RGB already.
    """
    try:
        with Image.open(path) as im:
            im.load()
            rgb = np.asarray(im.convert("RGB"))
    except FileNotFoundError:
        raise BenchError(f"image not found: {path}") from None
    except Exception as exc:  # Pillow raises several types for damaged files
        raise BenchError(f"cannot read image {path}: {exc}") from None
    rgb = np.ascontiguousarray(rgb)
    rgb.setflags(write=False)
    return rgb
