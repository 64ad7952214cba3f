"""Metrics on the decoded 8-bit RGB against the original 8-bit RGB: a registry of small modules.

Choose them with Hydra, `metrics=[psnr,ms_ssim,lpips,dists,vmaf,flip]` (default `[psnr, ms_ssim]`):

| name        | columns                                     | better | module        |
|-------------|---------------------------------------------|--------|---------------|
| psnr        | psnr_rgb, psnr_y, psnr_u, psnr_v, psnr_yuv  | higher | psnr.py       |
| ms_ssim     | ms_ssim_rgb, ms_ssim_rgb_db (+ ms_ssim_win) | higher | ms_ssim.py    |
| lpips       | lpips_alex (LPIPS v0.1, AlexNet)            | lower  | lpips.py      |
| lpips_vgg   | lpips_vgg (LPIPS v0.1, VGG16)               | lower  | lpips.py      |
| dists       | dists                                       | lower  | dists.py      |
| vmaf        | vmaf (libvmaf vmaf_v0.6.1)                  | higher | vmaf.py       |
| flip        | flip (NVIDIA FLIP, LDR)                     | lower  | flip.py       |

`METRICS` maps every numeric column to its declaration (direction, unit, value range, input range,
colour space, dB form, kind, label, and the metric name).  Deep metrics also write a record column
`<column>_impl` (package versions, weights and their source) and `metric_device`.

Adding a metric is one module here with `SPECS = {name: base.Metric(...)}` and
`compute_batch(ref, dec, *, matrix, device, **options) -> dict`, plus one line in `REGISTRY`.  Module
top levels import only numpy: heavy dependencies (torch, lpips, DISTS_pytorch, flip_evaluator) load
inside compute_batch, only when the metric is chosen.
"""

from __future__ import annotations

import importlib
from typing import Iterable

import numpy as np

from bench.errors import BenchError
from bench.metrics.base import Metric, as_batch
from bench.metrics.ms_ssim import ms_ssim_rgb, ms_ssim_win, to_db  # noqa: F401  (public names)
from bench.metrics.psnr import psnr, psnr_ycbcr  # noqa: F401

# metric name (as in `metrics=[...]`) -> module declaring it in SPECS
REGISTRY = {
    "psnr": "bench.metrics.psnr",
    "ms_ssim": "bench.metrics.ms_ssim",
    "lpips": "bench.metrics.lpips",
    "lpips_vgg": "bench.metrics.lpips",
    "dists": "bench.metrics.dists",
    "vmaf": "bench.metrics.vmaf",
    "flip": "bench.metrics.flip",
}
DEFAULT = ("psnr", "ms_ssim")


def spec(name: str) -> Metric:
    try:
        module = REGISTRY[name]
    except KeyError:
        raise BenchError(f"unknown metric {name!r}; known: {', '.join(REGISTRY)}") from None
    return importlib.import_module(module).SPECS[name]


def resolve(names: Iterable[str] | None) -> tuple[str, ...]:
    """Validated metric names, in order, without repeats; None -> the default pair."""
    if names is None:
        return DEFAULT
    if isinstance(names, str):
        names = [n.strip() for n in names.strip("[]").split(",") if n.strip()]
    out = []
    for n in names:
        spec(n)
        if n not in out:
            out.append(n)
    if not out:
        raise BenchError("metrics is empty: choose at least one of " + ", ".join(REGISTRY))
    return tuple(out)


def columns(names: Iterable[str] | None = None) -> list[str]:
    """The numeric result columns the chosen metrics write (what a finished row must hold)."""
    return [c for n in resolve(names) for c in spec(n).columns]


def missing(row: dict, names: Iterable[str] | None = None) -> tuple[str, ...]:
    """Metrics whose columns a stored row lacks."""
    return tuple(n for n in resolve(names) if any(c not in row for c in spec(n).columns))


# Every numeric column with its declaration; the store, plots and analyses read direction/unit here.
METRICS: dict[str, dict] = {col: {**info, "metric": name} for name in REGISTRY for col, info in spec(name).columns.items()}


def compute_batch(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709", names: Iterable[str] | None = None,
                  device: str = "auto", **options) -> dict:
    """Batched: ref, dec uint8 (N, H, W, 3) -> {column: array of N values} plus record columns."""
    ref, dec = as_batch(ref), as_batch(dec)
    if ref.shape != dec.shape:
        raise ValueError(f"decoded pictures are {dec.shape}, originals {ref.shape}")
    out: dict = {}
    for name in resolve(names):
        s = spec(name)
        out.update(importlib.import_module(s.module).compute_batch(ref, dec, matrix=matrix, device=device,
                                                                   **{**s.options, **options}))
    if "metric_matrix" in out:  # keep the historical column order: the matrix last
        out["metric_matrix"] = out.pop("metric_matrix")
    return out


def _scalar(v):
    if isinstance(v, np.ndarray):
        v = v[0]
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.floating):
        return float(v)
    return v


def compute(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709", names: Iterable[str] | None = None,
            device: str = "auto", **options) -> dict:
    """One picture (H, W, 3) pair -> {column: value}.  With names=None: PSNR-RGB/Y/U/V/YUV,
    MS-SSIM-RGB (+ dB, window) and metric_matrix, as the harness always wrote."""
    if np.shape(ref) != np.shape(dec):
        raise ValueError(f"decoded picture is {np.shape(dec)}, original {np.shape(ref)}")
    if np.ndim(ref) != 3:
        raise ValueError("compute() takes one picture (H, W, 3); use compute_batch() for (N, H, W, 3)")
    return {k: _scalar(v) for k, v in compute_batch(ref, dec, matrix, names, device, **options).items()}


__all__ = ["METRICS", "REGISTRY", "DEFAULT", "Metric", "compute", "compute_batch", "columns", "missing", "resolve",
           "spec", "psnr", "psnr_ycbcr", "ms_ssim_rgb", "ms_ssim_win", "to_db"]
