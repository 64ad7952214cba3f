"""Distortion metrics on the decoded 8-bit RGB against the original 8-bit RGB.

Conventions (each is a column or stated here, because each has split the field before):
  - PSNR-RGB: one MSE over all pixels and all three channels, peak 255 (CompressAI's psnr-rgb).
  - PSNR-Y/Cb/Cr: on float Y'CbCr computed from the 8-bit RGB with `metric_matrix` (BT.709 unless
    configured), no rounding, peak 255; PSNR-YUV is the 6:1:1 weighted mean of the three PSNRs
    (JVET CTC practice).  This is independent of the codec's own coding colour space.
  - MS-SSIM-RGB: pytorch_msssim.ms_ssim on float [0, 255] NCHW tensors with data_range=255, five
    scales, Gaussian window 11 (the same call as CompressAI).  Pictures whose short side is <= 160 px
    cannot take five scales with that window; they get the largest odd window that fits, recorded in
    `ms_ssim_win`.  The dB form is -10 log10(1 - MS-SSIM), per image; averages of dB and dB of
    averages differ, and the table keeps per-image values so either can be derived.
"""

from __future__ import annotations

import math

import numpy as np

from bench.colour import rgb_to_ycbcr_float

# Declared so plots and later stages know the direction and unit of each column.
METRICS = {
    "psnr_rgb": {"higher_is_better": True, "unit": "dB"},
    "psnr_y": {"higher_is_better": True, "unit": "dB"},
    "psnr_u": {"higher_is_better": True, "unit": "dB"},
    "psnr_v": {"higher_is_better": True, "unit": "dB"},
    "psnr_yuv": {"higher_is_better": True, "unit": "dB"},
    "ms_ssim_rgb": {"higher_is_better": True, "unit": ""},
    "ms_ssim_rgb_db": {"higher_is_better": True, "unit": "dB"},
}


def _psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    return _psnr_from_mse(float(np.mean(d * d)), peak)


def psnr_ycbcr(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709") -> dict[str, float]:
    r = rgb_to_ycbcr_float(ref, matrix)
    d = rgb_to_ycbcr_float(dec, matrix)
    err = (r - d) ** 2
    y, u, v = (_psnr_from_mse(float(np.mean(err[..., i]))) for i in range(3))
    return {"psnr_y": y, "psnr_u": u, "psnr_v": v, "psnr_yuv": (6 * y + u + v) / 8}


def ms_ssim_win(height: int, width: int) -> int:
    """Gaussian window for 5-scale MS-SSIM: 11 when the picture allows, else the largest odd fit."""
    short = min(height, width)
    win = 11
    while win > 3 and short <= (win - 1) * 16:
        win -= 2
    return win


def ms_ssim_rgb(ref: np.ndarray, dec: np.ndarray) -> tuple[float, int]:
    import torch
    from pytorch_msssim import ms_ssim

    win = ms_ssim_win(*ref.shape[:2])
    if min(ref.shape[:2]) <= (win - 1) * 16:
        return math.nan, win

    def t(x):
        return torch.from_numpy(np.array(x, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)

    with torch.no_grad():
        value = ms_ssim(t(ref), t(dec), data_range=255, win_size=win).item()
    return value, win


def to_db(ms_ssim: float) -> float:
    if math.isnan(ms_ssim):
        return math.nan
    return math.inf if ms_ssim >= 1.0 else -10.0 * math.log10(1.0 - ms_ssim)


def compute(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709") -> dict[str, float]:
    if ref.shape != dec.shape:
        raise ValueError(f"decoded picture is {dec.shape}, original {ref.shape}")
    out = {"psnr_rgb": psnr(ref, dec)}
    out.update(psnr_ycbcr(ref, dec, matrix))
    value, win = ms_ssim_rgb(ref, dec)
    out.update({"ms_ssim_rgb": value, "ms_ssim_rgb_db": to_db(value), "ms_ssim_win": win, "metric_matrix": matrix})
    return out
