"""Decoded pictures saved as PNG during a sweep, on request (config `save_reconstructions: true`).

The report's visual comparisons (bench.report.panels) decode the kept bitstreams again by default, so
nothing is stored twice; a user who wants the pictures themselves (or whose decoder is slow or
unavailable at report time) asks the sweep to save them.  They sit beside `bitstreams/`, named the
same way, and the row records where (`reconstruction`, relative to the sweep folder).  Rows finished
before the option was set keep no PNG: the report decodes their bitstreams instead.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import numpy as np

from bench.core.files import atomic_write_bytes


def reconstruction_columns(sweep_dir: str, dataset: str, codec: str, image: str, point: Any, key: str, rgb: np.ndarray) -> dict:
    """Write the decoded picture as PNG; return the row columns.  A picture that cannot be written costs the
    row its PNG only (`reconstruction_note` says why), never its measurement."""
    from PIL import Image

    rel = Path("reconstructions") / dataset / codec / image / f"{point}.{key[:12]}.png"
    try:
        buf = io.BytesIO()
        Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="PNG")
        atomic_write_bytes(Path(sweep_dir) / rel, buf.getvalue())
    except (OSError, ValueError) as exc:
        return {"reconstruction": "", "reconstruction_note": f"not saved: {type(exc).__name__}: {exc}".splitlines()[0]}
    return {"reconstruction": str(rel)}
