"""PSNR on RGB and on Y'CbCr (Y, U, V and the 6:1:1 YUV mean), peak 255.

  - PSNR-RGB: one MSE over all pixels and all three channels, peak 255 (CompressAI's psnr-rgb).
  - PSNR-Y/Cb/Cr: on float Y'CbCr computed from the 8-bit RGB with `metric_matrix` (BT.709 unless
    configured), no rounding, peak 255; PSNR-YUV is the 6:1:1 weighted mean of the three PSNRs
    (JVET CTC practice).  This is independent of the codec's own coding colour space.
  - A reference without chroma (R = G = B at every pixel: a grey picture, see bench.data.images) has
    Cb = Cr = 128 everywhere, which any codec keeps exactly; its PSNR-U/V would be infinite and say
    nothing about the codec, and PSNR-YUV with them.  They are NaN, with the reason in `metric_note`
    (so dataset means of them are NaN too rather than infinite or silently over fewer pictures).
"""

from __future__ import annotations

import math

import numpy as np

from bench.metrics.base import Metric, as_batch, column

_DB = dict(higher_is_better=True, unit="dB", value_range=(0.0, None), input_range="8-bit [0, 255], peak 255",
           kind="distortion")
SPECS = {
    "psnr": Metric(
        "psnr", __name__,
        {
            "psnr_rgb": column(**_DB, colour_space="RGB", label="PSNR-RGB [dB]", primary=True),
            "psnr_y": column(**_DB, colour_space="Y' of metric_matrix", label="PSNR-Y [dB]"),
            "psnr_u": column(**_DB, colour_space="Cb of metric_matrix", label="PSNR-U [dB]"),
            "psnr_v": column(**_DB, colour_space="Cr of metric_matrix", label="PSNR-V [dB]"),
            "psnr_yuv": column(**_DB, colour_space="Y'CbCr 6:1:1", label="PSNR-YUV 6:1:1 [dB]"),
        },
        description="PSNR of RGB (one MSE over all channels) and of float Y'CbCr planes",
    ),
}


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    d = a.astype(np.float64) - b.astype(np.float64)
    return psnr_from_mse(float(np.mean(d * d)), peak)


def psnr_ycbcr(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709") -> dict[str, float]:
    from bench.core.colour import rgb_to_ycbcr_float

    r = rgb_to_ycbcr_float(ref, matrix)
    d = rgb_to_ycbcr_float(dec, matrix)
    err = (r - d) ** 2
    y, u, v = (psnr_from_mse(float(np.mean(err[..., i]))) for i in range(3))
    return {"psnr_y": y, "psnr_u": u, "psnr_v": v, "psnr_yuv": (6 * y + u + v) / 8}


GREY_NOTE = "the original has no chroma (R = G = B): PSNR-U/V/YUV left out"


def has_chroma(rgb: np.ndarray) -> bool:
    return not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto", **_) -> dict:
    ref, dec = as_batch(ref), as_batch(dec)
    cols: dict[str, list] = {c: [] for c in SPECS["psnr"].columns}
    notes = []
    for r, d in zip(ref, dec):
        cols["psnr_rgb"].append(psnr(r, d))
        ycc = psnr_ycbcr(r, d, matrix)
        grey = not has_chroma(r)
        if grey:
            ycc.update(psnr_u=math.nan, psnr_v=math.nan, psnr_yuv=math.nan)
        notes.append(GREY_NOTE if grey else "")
        for k, v in ycc.items():
            cols[k].append(v)
    out = {k: np.asarray(v, dtype=np.float64) for k, v in cols.items()}
    out["metric_matrix"] = matrix
    if any(notes):
        out["metric_note"] = notes
    return out
