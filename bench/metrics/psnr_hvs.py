"""PSNR-HVS and PSNR-HVS-M (Egiazarian et al. 2006; Ponomarenko et al. 2007) through the `psnr-hvsm`
package, on Y' as JPEG AI's framework computes them.

  - Both come from one pass over 8x8 DCT blocks: PSNR-HVS weights the DCT error by a contrast
    sensitivity table; PSNR-HVS-M also removes what the block's own contrast masks.  JPEG AI's
    framework reports PSNR-HVS (from the same package); PSNR-HVS-M is the masked form.
  - Input: the luma plane of `bench.metrics.luma` (Y' of `metric_matrix`, full range, rounded to 10
    bits), float64 [0, 1], peak 1.  The package takes whole 8x8 blocks only: a side that is not a
    multiple of 8 is padded by repeating the last row/column, as JPEG AI's framework does (Kodak,
    768x512, needs none).  The package's numpy backend is named explicitly, so `PSNR_HVSM_BACKEND`
    cannot change the numbers.
  - dB from the package's block-mean weighted MSE, 10 log10(1 / MSE), infinite for identical pictures
    as PSNR-RGB is (the package's own psnr function caps that case at 100).
"""

from __future__ import annotations

import math

import numpy as np

from bench.metrics.base import Metric, as_batch, column
from bench.metrics.luma import DEFAULT_BITS

_IN = "Y' float [0, 1] (metric_matrix, full range, 10-bit rounded), peak 1, padded to a multiple of 8"
SPECS = {
    "psnr_hvs": Metric(
        "psnr_hvs", __name__,
        {
            "psnr_hvs": column(higher_is_better=True, unit="dB", value_range=(0.0, None), input_range=_IN,
                               colour_space="Y' of metric_matrix", kind="perceptual", label="PSNR-HVS (Y) [dB]"),
            "psnr_hvsm": column(higher_is_better=True, unit="dB", value_range=(0.0, None), input_range=_IN,
                                colour_space="Y' of metric_matrix", kind="perceptual", label="PSNR-HVS-M (Y) [dB]"),
        },
        options={"bits": DEFAULT_BITS}, description="PSNR-HVS and PSNR-HVS-M on Y', psnr-hvsm 0.3.0 (numpy backend)",
    ),
}


def _backend():
    import contextlib
    import io

    with contextlib.redirect_stdout(io.StringIO()):  # the package prints about its optional torch backend
        import psnr_hvsm
    return psnr_hvsm.BACKENDS["numpy"]["hvs_hvsm_mse"]


def pad8(planes: np.ndarray) -> np.ndarray:
    """(N, H, W) -> edge-replicated to multiples of 8."""
    h, w = planes.shape[-2:]
    return np.pad(planes, ((0, 0), (0, -h % 8), (0, -w % 8)), mode="edge")


def _db(mse: float) -> float:
    return math.inf if mse == 0 else 10.0 * math.log10(1.0 / mse)


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  bits: int = DEFAULT_BITS, **_) -> dict:
    from importlib.metadata import version

    from bench.metrics.luma import describe, luma

    ref, dec = as_batch(ref), as_batch(dec)
    with np.errstate(invalid="ignore", divide="ignore"):  # the package divides before np.where drops flat blocks
        mse_hvs, mse_hvsm = _backend()(pad8(luma(ref, matrix, bits)), pad8(luma(dec, matrix, bits)), batch=True)
    h, w = ref.shape[1:3]
    pad = "" if h % 8 == 0 and w % 8 == 0 else f", edge-padded {w}x{h} -> {w + (-w % 8)}x{h + (-h % 8)}"
    return {"psnr_hvs": np.array([_db(float(m)) for m in np.atleast_1d(mse_hvs)]),
            "psnr_hvsm": np.array([_db(float(m)) for m in np.atleast_1d(mse_hvsm)]),
            "psnr_hvs_impl": f"psnr-hvsm {version('psnr_hvsm')} numpy backend on {describe(matrix, bits)}, peak 1{pad}"}
