"""MS-SSIM on RGB, as CompressAI computes it, and its dB form.

pytorch_msssim.ms_ssim on float [0, 255] NCHW tensors with data_range=255, five scales, Gaussian
window 11 (the same call as CompressAI).  Pictures whose short side is <= 160 px cannot take five
scales with that window; they get the largest odd window that fits, recorded in `ms_ssim_win`.  The
dB form is -10 log10(1 - MS-SSIM), per image; averages of dB and dB of averages differ, and the table
keeps per-image values so either can be derived.
"""

from __future__ import annotations

import math

import numpy as np

from bench.metrics.base import Metric, as_batch, column

SPECS = {
    "ms_ssim": Metric(
        "ms_ssim", __name__,
        {
            "ms_ssim_rgb": column(higher_is_better=True, unit="", value_range=(0.0, 1.0),
                                  input_range="float [0, 255], data_range=255", colour_space="RGB",
                                  db="ms_ssim_rgb_db", kind="structural", label="MS-SSIM (RGB)"),
            "ms_ssim_rgb_db": column(higher_is_better=True, unit="dB", value_range=(0.0, None),
                                     input_range="float [0, 255], data_range=255", colour_space="RGB",
                                     kind="structural", label="MS-SSIM-RGB [dB]", db_of="ms_ssim_rgb", primary=True),
        },
        uses_torch=True,
        description="pytorch-msssim, 5 scales, window 11 (smaller for short side <= 160 px)",
    ),
}


def ms_ssim_win(height: int, width: int) -> int:
    """Gaussian window for 5-scale MS-SSIM: 11 when the picture allows, else the largest odd fit."""
    short = min(height, width)
    win = 11
    while win > 3 and short <= (win - 1) * 16:
        win -= 2
    return win


def to_db(ms_ssim: float) -> float:
    if math.isnan(ms_ssim):
        return math.nan
    return math.inf if ms_ssim >= 1.0 else -10.0 * math.log10(1.0 - ms_ssim)


def _values(ref: np.ndarray, dec: np.ndarray, device: str = "cpu") -> tuple[np.ndarray, int]:
    """Per-image MS-SSIM of a batch (N, H, W, 3) and the window used."""
    import torch
    from pytorch_msssim import ms_ssim

    n, h, w = ref.shape[:3]
    win = ms_ssim_win(h, w)
    if min(h, w) <= (win - 1) * 16:
        return np.full(n, math.nan), win

    def t(x):
        return torch.from_numpy(np.asarray(x, dtype=np.float32)).permute(0, 3, 1, 2).to(device)

    with torch.no_grad():
        values = ms_ssim(t(ref), t(dec), data_range=255, win_size=win, size_average=False)
    return values.double().cpu().numpy(), win


def too_small_note(height: int, width: int) -> str:
    win = ms_ssim_win(height, width)
    short = min(height, width)
    return f"short side {short} px <= {(win - 1) * 16}: too small for 5 scales even with window {win}" \
        if short <= (win - 1) * 16 else ""


def ms_ssim_rgb(ref: np.ndarray, dec: np.ndarray) -> tuple[float, int]:
    """One picture (H, W, 3): (MS-SSIM, window)."""
    values, win = _values(as_batch(ref), as_batch(dec))
    return float(values[0]), win


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto", **_) -> dict:
    from bench.core.device import resolve_device

    ref, dec = as_batch(ref), as_batch(dec)
    values, win = _values(ref, dec, resolve_device(device))
    out = {"ms_ssim_rgb": values, "ms_ssim_rgb_db": np.array([to_db(float(v)) for v in values]),
           "ms_ssim_win": np.full(len(values), win, dtype=np.int64)}
    note = too_small_note(*ref.shape[1:3])
    if note:
        out["metric_note"] = [note] * len(values)
    return out
