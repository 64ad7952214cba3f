"""PSNR on RGB and on Y'CbCr (Y, U, V and the 6:1:1 YUV mean), peak 255.

  - PSNR-RGB: one MSE over all pixels and all three channels, peak 255 (CompressAI's psnr-rgb).
  - PSNR-Y/Cb/Cr: on float Y'CbCr computed from the 8-bit RGB with `metric_matrix` (BT.709 unless
    configured), no rounding, peak 255; PSNR-YUV is the 6:1:1 weighted mean of the three PSNRs
    (JVET CTC practice).  This is independent of the codec's own coding colour space.

Why by hand, and how.  Every one of these numbers is a function of one 3x3 matrix: the sums of
products of the RGB error, E = sum over pixels of e e^T with e = ref - dec.  The float Y'CbCr
conversion is linear (its offsets cancel in a difference), so the Y'CbCr error of a pixel is M e and
the squared error of plane i summed over the picture is m_i E m_i^T.  E is computed in integers,
exactly, in chunks of rows: no float copy of the picture (the old path held four float64 Y'CbCr
copies, 96 bytes per pixel, and took 26 ms at 768x512), a few ms for the whole family.
scikit-image's `peak_signal_noise_ratio` does one plane per call on float64 copies and no library
converts to Y'CbCr without materialising it, so no library does this fast enough; the tests compare
every column with scikit-image on explicitly converted planes.

PSNR-RGB is bit-identical to the float64 mean of squared differences (its sum is an exact integer
either way).

A reference without chroma (R = G = B at every pixel: a grey picture, see bench.data.images) has
Cb = Cr = 128 everywhere, which any codec keeps exactly; its PSNR-U/V would be infinite and say
nothing about the codec, and PSNR-YUV with them.  They are NaN, with the reason in `metric_note`
(so dataset means of them are NaN too rather than infinite or silently over fewer pictures).  A plane whose error cancels exactly (a grey error has no chroma) gets inf, where a
per-pixel float conversion gave a rounding-noise MSE near 1e-30 (PSNR near 350 dB).
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

# int32 sums of this many squared 8-bit errors (<= 255^2 each) cannot overflow: 32768 x 65025 < 2^31
_CHUNK_PIXELS = 32768


def psnr_from_mse(mse: float, peak: float = 255.0) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(peak * peak / mse)


def error_moments(ref: np.ndarray, dec: np.ndarray) -> tuple[np.ndarray, int]:
    """(E, n): the exact 3x3 int64 sums of products of the per-pixel RGB error over a picture (H, W, 3),
    and its pixel count.  Chunks of rows keep the temporaries small whatever the picture size."""
    h, w = ref.shape[:2]
    moments = np.zeros((3, 3), np.int64)
    if w > _CHUNK_PIXELS:  # a row alone could overflow int32 sums: int64 products, still exact
        for r0 in range(h):
            e = np.subtract(ref[r0], dec[r0], dtype=np.int64)
            moments += e.T @ e
        return moments, h * w
    rows = max(1, _CHUNK_PIXELS // w)
    for r0 in range(0, h, rows):
        e = np.subtract(ref[r0:r0 + rows], dec[r0:r0 + rows], dtype=np.int32).reshape(-1, 3)
        moments += np.einsum("ij,ik->jk", e, e)
    return moments, h * w


def _plane_mse(moments: np.ndarray, n: int, matrix: str) -> list[float]:
    from bench.core.colour import ycbcr_matrix

    m = ycbcr_matrix(matrix)  # Y'CbCr on [0, 255] from RGB on [0, 255]: the same matrix
    e = moments.astype(np.float64)
    out = []
    for row in m:
        sse = float(row @ e @ row)
        # rounding noise of the quadratic form, when the true value is 0 (e.g. chroma of a grey error)
        noise = 16 * np.finfo(np.float64).eps * float(np.abs(row) @ np.abs(e) @ np.abs(row))
        out.append(0.0 if sse <= noise else sse / n)
    return out


def psnr(a: np.ndarray, b: np.ndarray, peak: float = 255.0) -> float:
    """PSNR-RGB of one picture pair (H, W, 3): one MSE over every sample."""
    moments, n = error_moments(np.asarray(a), np.asarray(b))
    return psnr_from_mse(float(np.trace(moments)) / (3 * n), peak)


def psnr_ycbcr(ref: np.ndarray, dec: np.ndarray, matrix: str = "bt709") -> dict[str, float]:
    moments, n = error_moments(np.asarray(ref), np.asarray(dec))
    return _ycbcr_from_moments(moments, n, matrix)


def _ycbcr_from_moments(moments: np.ndarray, n: int, matrix: str) -> dict[str, float]:
    y, u, v = (psnr_from_mse(mse) for mse in _plane_mse(moments, n, matrix))
    return {"psnr_y": y, "psnr_u": u, "psnr_v": v, "psnr_yuv": (6 * y + u + v) / 8}


GREY_NOTE = "the original has no chroma (R = G = B): PSNR-U/V/YUV left out"


def has_chroma(rgb: np.ndarray) -> bool:
    return not (np.array_equal(rgb[..., 0], rgb[..., 1]) and np.array_equal(rgb[..., 1], rgb[..., 2]))


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto", **_) -> dict:
    ref, dec = as_batch(ref), as_batch(dec)
    cols: dict[str, list] = {c: [] for c in SPECS["psnr"].columns}
    notes = []
    for r, d in zip(ref, dec):
        moments, n = error_moments(r, d)
        cols["psnr_rgb"].append(psnr_from_mse(float(np.trace(moments)) / (3 * n)))
        ycc = _ycbcr_from_moments(moments, n, matrix)
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
