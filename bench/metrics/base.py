"""What every metric module shares: the declaration of a metric and its columns, batching helpers,
the torch device choice and a per-process cache of loaded networks.

A metric module (one small file in this package) declares `SPECS = {name: Metric(...)}` and a
function `compute_batch(ref, dec, *, matrix, device, **options) -> dict`.  `ref` and `dec` are uint8
RGB batches of shape (N, H, W, 3) (the harness's pictures, one size per batch); the function returns
one array of N values per numeric column plus, optionally, record columns (strings: implementation,
version, device).  Module top levels import only the standard library and numpy: torch, lpips,
flip_evaluator and friends are imported inside the functions, so a metric costs nothing until chosen.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np


def column(*, higher_is_better: bool, unit: str = "", value_range=(0.0, None), input_range: str = "",
           colour_space: str = "", db: str | None = None, kind: str = "distortion", label: str = "",
           **extra: Any) -> dict:
    """The declaration of one numeric result column.

    higher_is_better  direction: True for PSNR, MS-SSIM, VMAF; False for LPIPS, DISTS, FLIP
    unit              "dB" or "" (unitless)
    value_range       (low, high) the metric can take; None = unbounded
    input_range       what the implementation is fed (e.g. "[-1, 1] float RGB" for LPIPS)
    colour_space      where it measures (RGB, Y'CbCr BT.709, sRGB, ...)
    db                name of the column holding the dB form of this one, if it exists
    kind              distortion | structural | perceptual (the perception-distortion analysis uses it)
    label             axis label for plots
    """
    return {"higher_is_better": bool(higher_is_better), "unit": unit, "range": list(value_range),
            "input_range": input_range, "colour_space": colour_space, "db": db, "kind": kind,
            "label": label, **extra}


@dataclass(frozen=True)
class Metric:
    """One selectable metric (a name in `metrics=[...]`): the columns it writes and its options."""

    name: str
    module: str  # "bench.metrics.<file>"
    columns: dict[str, dict]  # numeric result columns -> column() info
    options: dict[str, Any] = field(default_factory=dict)  # passed to the module's compute_batch
    uses_torch: bool = False  # takes device=auto|cpu|cuda
    description: str = ""
    deep: bool = False  # a CNN whose cost is its forward passes: a sweep batches it across the rate points of one
    #                     image (config metric_batch, bench.sweep.batch); compute_batch must then accept a reference
    #                     batch of one picture repeated (single_reference) and give each pair the value it gives alone


def as_batch(x: np.ndarray) -> np.ndarray:
    """(H, W, 3) or (N, H, W, 3) uint8 -> (N, H, W, 3) uint8."""
    a = np.asarray(x)
    if a.ndim == 3:
        a = a[None]
    if a.ndim != 4 or a.shape[-1] != 3:
        raise ValueError(f"expected RGB pictures (H, W, 3) or (N, H, W, 3), got shape {a.shape}")
    if a.dtype != np.uint8:
        raise ValueError(f"expected 8-bit RGB (uint8), got {a.dtype}")
    return a


def to_tensor01(batch: np.ndarray, device: str):
    """uint8 (N, H, W, 3) -> float32 NCHW in [0, 1] on `device`."""
    import torch

    t = torch.from_numpy(np.array(batch, dtype=np.uint8, copy=True)).to(device)  # a copy: inputs may be read-only
    return t.permute(0, 3, 1, 2).float().div_(255.0)


def single_reference(batch: np.ndarray) -> np.ndarray:
    """The reference batch to run through a network: (1, H, W, 3) when every picture of `batch` is the same
    one (a sweep measuring the rate points of one image passes `np.broadcast_to(ref, ...)`), else `batch`.

    Its features, batch 1, broadcast against the decoded pictures' features in the score, so a batch of
    K points costs K + 1 passes, not 2K, and the features are the very ones a call per point computes
    (and RefFeatureCache keeps)."""
    if len(batch) > 1 and (batch.strides[0] == 0 or all(np.array_equal(batch[0], b) for b in batch[1:])):
        return batch[:1]
    return batch


_NETS: dict[tuple, Any] = {}
_NETS_LOCK = threading.Lock()


def cached_net(key: tuple, factory: Callable[[], Any]) -> Any:
    """One loaded network per process and key (net, device): loading VGG16 costs ~1 s, a unit less."""
    with _NETS_LOCK:
        if key not in _NETS:
            _NETS[key] = factory()
        return _NETS[key]


class RefFeatureCache:
    """The reference picture's features, kept for the next call with the same picture.

    A sweep worker measures every rate point of one image in a row, so the reference half of a
    full-reference deep metric (half its cost) is computed once per image instead of once per point.
    Keyed by a digest of the picture bytes, never by identity; holds one entry."""

    def __init__(self):
        self._key = None
        self._value = None
        self._lock = threading.Lock()

    def clear(self) -> None:
        """Forget the kept features (a benchmark timing a picture's first rate point)."""
        with self._lock:
            self._key = self._value = None

    def get(self, tag: tuple, batch: np.ndarray, compute: Callable[[], Any]) -> Any:
        key = (tag, batch.shape, hashlib.sha1(np.ascontiguousarray(batch).data).hexdigest())
        with self._lock:
            if key != self._key:
                self._value = compute()
                self._key = key
            return self._value
