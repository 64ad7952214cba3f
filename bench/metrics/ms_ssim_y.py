"""MS-SSIM on Y', as JPEG AI's framework computes it, beside the RGB MS-SSIM of `ms_ssim` (CompressAI's).

  - JPEG AI's objective quality assessment framework (`msssim_torch`) converts RGB to Y'CbCr BT.709
    full range, rounds the planes to 10 bits, and calls pytorch_msssim.ms_ssim on the Y' codes
    (0..1023) with data_range=1023.  Here: the luma plane of `bench.metrics.luma` (Y' of
    `metric_matrix`, BT.709 unless the sweep says otherwise, full range, rounded to 10 bits) as codes
    0..2^bits - 1, data_range = 2^bits - 1, the same pytorch-msssim call (5 scales, Gaussian window
    11, K = (0.01, 0.03)).
  - Small pictures: JPEG AI pads the plane with zeros to 164 px; here the window shrinks as for the RGB
    MS-SSIM (`bench.metrics.ms_ssim.ms_ssim_win`, recorded in `ms_ssim_y_impl`), and NaN below that.
  - dB form: -10 log10(1 - MS-SSIM), per image.
  - Calibration: the official `ms_ssim` row was computed by Wang's MATLAB msssim.m on MATLAB's rgb2gray
    (BT.601, 8-bit).  On that plane (matrix bt601, bits 8) this call is within 4.5e-3 of the row (0.0033
    and 0.0044 on the two heavily distorted pairs, < 3e-4 on the others).  A numpy transcription of
    msssim.m gives pytorch-msssim's numbers, and pyiqa's own calibration table shows the same gap
    (0.6698 against 0.6733 on I03), so the gap is in the row, not in the call.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, as_batch, column
from bench.metrics.luma import DEFAULT_BITS

_IN = "Y' codes 0..2^bits-1 (metric_matrix, full range, 10-bit), data_range=2^bits-1"
SPECS = {
    "ms_ssim_y": Metric(
        "ms_ssim_y", __name__,
        {
            "ms_ssim_y": column(higher_is_better=True, unit="", value_range=(0.0, 1.0), input_range=_IN,
                                colour_space="Y' of metric_matrix", db="ms_ssim_y_db", kind="structural",
                                label="MS-SSIM (Y)"),
            "ms_ssim_y_db": column(higher_is_better=True, unit="dB", value_range=(0.0, None), input_range=_IN,
                                   colour_space="Y' of metric_matrix", kind="structural", label="MS-SSIM-Y [dB]",
                                   db_of="ms_ssim_y"),
        },
        options={"bits": DEFAULT_BITS}, uses_torch=True,
        description="MS-SSIM of Y' (JPEG AI's), pytorch-msssim, 5 scales, window 11 (smaller for short side <= 160 px)",
    ),
}


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  bits: int = DEFAULT_BITS, **_) -> dict:
    from importlib.metadata import version

    import torch
    from pytorch_msssim import ms_ssim

    from bench.core.device import resolve_device
    from bench.metrics.luma import describe, luma_tensor
    from bench.metrics.ms_ssim import ms_ssim_win, to_db

    ref, dec = as_batch(ref), as_batch(dec)
    n, h, w = ref.shape[:3]
    win = ms_ssim_win(h, w)
    impl = f"pytorch-msssim {version('pytorch_msssim')} ms_ssim, window {win}, on {describe(matrix, bits)}"
    if min(h, w) <= (win - 1) * 16:
        nan = np.full(n, np.nan)
        return {"ms_ssim_y": nan, "ms_ssim_y_db": nan.copy(), "ms_ssim_y_impl": f"not measured: picture too small; {impl}"}
    dev = resolve_device(device)
    peak = float(2 ** int(bits) - 1)
    with torch.no_grad():
        values = ms_ssim(luma_tensor(ref, matrix, bits, dev) * peak, luma_tensor(dec, matrix, bits, dev) * peak,
                         data_range=peak, win_size=win, size_average=False).double().cpu().numpy()
    return {"ms_ssim_y": values, "ms_ssim_y_db": np.array([to_db(float(v)) for v in values]), "ms_ssim_y_impl": impl,
            "metric_device": dev}
