"""IW-SSIM, information content weighted SSIM (Wang & Li 2011), through piq 0.8.0, on Y' as JPEG AI
computes it.

  - Input: the luma plane of `bench.metrics.luma` (Y' of `metric_matrix`, full range, rounded to 10
    bits) as one channel, float [0, 1], data_range=1 (piq rescales to [0, 255]).
  - piq's defaults are those of Wang's iwssim.m: 5 scales of a Laplacian pyramid, Gaussian window 11
    (sigma 1.5), K = (0.01, 0.03), 3x3 blocks, sigma_nsq = 0.4, parent scale on, the MS-SSIM weights.
    Order matters: piq's x is the decoded picture, y the reference (its information weights).
  - dB form: -10 log10(1 - IW-SSIM), as for MS-SSIM.
  - No official calibration value exists for IW-SSIM in the IQA-PyTorch set; the tests check
    properties (1 for identical pictures, falls with noise, order of the inputs).
  - Pictures whose short side is under 161 px give NaN (5 scales of the 11-tap window).
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, as_batch, column
from bench.metrics.luma import DEFAULT_BITS

_IN = "Y' float [0, 1] (metric_matrix, full range, 10-bit rounded), data_range=1"
SPECS = {
    "iw_ssim": Metric(
        "iw_ssim", __name__,
        {
            "iw_ssim": column(higher_is_better=True, unit="", value_range=(0.0, 1.0), input_range=_IN,
                              colour_space="Y' of metric_matrix", db="iw_ssim_db", kind="structural", label="IW-SSIM (Y)"),
            "iw_ssim_db": column(higher_is_better=True, unit="dB", value_range=(0.0, None), input_range=_IN,
                                 colour_space="Y' of metric_matrix", kind="structural", label="IW-SSIM-Y [dB]",
                                 db_of="iw_ssim"),
        },
        options={"bits": DEFAULT_BITS}, uses_torch=True, description="IW-SSIM on Y', piq 0.8.0",
    ),
}
MIN_SIDE = 161


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  bits: int = DEFAULT_BITS, **_) -> dict:
    from importlib.metadata import version

    import piq

    from bench.metrics.luma import describe, score_on_luma
    from bench.metrics.ms_ssim import to_db

    values, dev = score_on_luma(ref, dec, lambda d, r: piq.information_weighted_ssim(d, r, data_range=1.0, reduction="none"),
                                matrix=matrix, bits=bits, device=device, min_side=MIN_SIDE)
    if values is None:
        nan = np.full(len(as_batch(ref)), np.nan)
        return {"iw_ssim": nan, "iw_ssim_db": nan.copy(), "iw_ssim_impl": f"not measured: a side < {MIN_SIDE} px"}
    return {"iw_ssim": values, "iw_ssim_db": np.array([to_db(float(v)) for v in values]),
            "iw_ssim_impl": f"piq {version('piq')} information_weighted_ssim on {describe(matrix, bits)}", "metric_device": dev}
