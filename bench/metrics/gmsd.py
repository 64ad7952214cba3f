"""GMSD, gradient magnitude similarity deviation (Xue, Zhang, Mou & Bovik 2014), through piq 0.8.0.

  - Input: the luma plane of `bench.metrics.luma` (Y' of `metric_matrix`, full range, rounded to 10
    bits), float [0, 1] as one channel, data_range=1.  piq then does what the authors' GMSD.m does:
    2x2 mean and decimation, Prewitt gradients, T = 170 (on the [0, 255] scale), standard deviation
    of the similarity map.  Lower is better; 0 for identical pictures.
  - Why the luma is made here and not by piq: piq converts RGB to an unrounded YIQ luma, while the
    official GMSD.m reads an 8-bit grey picture; near-identical pairs are dominated by that rounding
    (calibration pair I04: 0.00028 from piq on RGB, 0.00052 official).  Given the same 8-bit grey
    picture (matrix bt601, bits 8) piq equals the official values within 1e-5 (measured 2.3e-6).
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, column
from bench.metrics.luma import DEFAULT_BITS

_IN = "Y' float [0, 1] (metric_matrix, full range, 10-bit rounded), data_range=1"
SPECS = {
    "gmsd": Metric(
        "gmsd", __name__,
        {"gmsd": column(higher_is_better=False, unit="", value_range=(0.0, 0.5), input_range=_IN,
                        colour_space="Y' of metric_matrix", kind="structural", label="GMSD [lower is better]")},
        options={"bits": DEFAULT_BITS}, uses_torch=True, description="GMSD on Y', piq 0.8.0",
    ),
}


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  bits: int = DEFAULT_BITS, **_) -> dict:
    from importlib.metadata import version

    import piq

    from bench.metrics.luma import describe, score_on_luma

    values, dev = score_on_luma(ref, dec, lambda d, r: piq.gmsd(d, r, data_range=1.0, reduction="none"),
                                matrix=matrix, bits=bits, device=device)
    return {"gmsd": values, "gmsd_impl": f"piq {version('piq')} gmsd on {describe(matrix, bits)}", "metric_device": dev}
