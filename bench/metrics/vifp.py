"""VIFp, visual information fidelity in the pixel domain (Sheikh & Bovik 2006, the `vifp_mscale.m`
variant), through piq 0.8.0: the VIF that JPEG AI's framework reports.

JPEG AI's Call for Evidence and its objective quality assessment framework list "VIF" as VIFp: the
framework calls IQA_pytorch's `VIFs` (pixel domain) on Y'.  piq's `vif_p` computes the same index
(4 scales of Gaussian windows, sigma_n^2 = 2 on the [0, 255] scale): the two agree within 1e-4 (4e-7 on
a Kodak picture, 3e-5 at most on the test crops, where they treat near-zero variances differently).
It is not the wavelet VIF of the official calibration values (bench metric `vif`), from which it
differs by up to 0.053 on the calibration pairs: keep the two apart.

  - Input: the luma plane of `bench.metrics.luma` (Y' of `metric_matrix`, full range, rounded to 10
    bits) as one channel, float [0, 1], data_range=1 (piq rescales to [0, 255]).
  - Order matters: piq's x is the decoded picture, y the reference.
  - Pictures whose short side is under 41 px give NaN (piq's minimum for its 4 scales).
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, as_batch, column
from bench.metrics.luma import DEFAULT_BITS

_IN = "Y' float [0, 1] (metric_matrix, full range, 10-bit rounded), data_range=1"
SPECS = {
    "vifp": Metric(
        "vifp", __name__,
        {"vifp": column(higher_is_better=True, unit="", value_range=(0.0, None), input_range=_IN,
                        colour_space="Y' of metric_matrix", kind="perceptual", label="VIFp (pixel domain)")},
        options={"bits": DEFAULT_BITS}, uses_torch=True, description="VIF in the pixel domain on Y', piq 0.8.0 (JPEG AI's VIF)",
    ),
}
MIN_SIDE = 41


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  bits: int = DEFAULT_BITS, **_) -> dict:
    from importlib.metadata import version

    import piq

    from bench.metrics.luma import describe, score_on_luma

    values, dev = score_on_luma(ref, dec, lambda d, r: piq.vif_p(d, r, data_range=1.0, reduction="none"),
                                matrix=matrix, bits=bits, device=device, min_side=MIN_SIDE)
    if values is None:
        return {"vifp": np.full(len(as_batch(ref)), np.nan), "vifp_impl": f"not measured: a side < {MIN_SIDE} px"}
    return {"vifp": values, "vifp_impl": f"piq {version('piq')} vif_p on {describe(matrix, bits)}", "metric_device": dev}
