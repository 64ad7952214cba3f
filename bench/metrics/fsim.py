"""FSIM (Zhang, Zhang, Mou & Zhang 2011), colour form FSIMc, through piq 0.8.0.

  - Input: 8-bit RGB -> float [0, 1] NCHW, data_range=1.  piq rescales to [0, 255] (its constants are
    for that range), converts to its YIQ, and first average-pools by round(min(H, W) / 256) as the
    authors' MATLAB FSIM.m does: on a 768x512 picture FSIM is computed at 384x256.
  - FSIMc (chromatic=True): phase congruency and gradient of Y, plus the similarity of I and Q.  The
    official calibration row is FSIMc, and JPEG AI's framework also computes FSIM on RGB.
  - dB form: -10 log10(1 - FSIM), as for MS-SSIM (FSIM sits at 0.95..0.999 across usual rates).
  - Calibration: piq equals the official values on the IQA-PyTorch pairs within 1e-4 (measured 8.0e-5;
    tests/test_jpeg_ai_metrics.py).
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, as_batch, column

_IN = "float RGB [0, 1], data_range=1 (piq scales to [0, 255]; pooled by round(min(H, W) / 256))"
SPECS = {
    "fsim": Metric(
        "fsim", __name__,
        {
            "fsim": column(higher_is_better=True, unit="", value_range=(0.0, 1.0), input_range=_IN,
                           colour_space="sRGB -> YIQ (inside piq)", db="fsim_db", kind="structural", label="FSIMc"),
            "fsim_db": column(higher_is_better=True, unit="dB", value_range=(0.0, None), input_range=_IN,
                              colour_space="sRGB -> YIQ (inside piq)", kind="structural", label="FSIMc [dB]", db_of="fsim"),
        },
        uses_torch=True, description="FSIMc (chromatic FSIM), piq 0.8.0",
    ),
}


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto", **_) -> dict:
    from importlib.metadata import version

    import piq
    import torch

    from bench.core.device import resolve_device
    from bench.metrics.base import to_tensor01
    from bench.metrics.ms_ssim import to_db

    ref, dec = as_batch(ref), as_batch(dec)
    dev = resolve_device(device)
    with torch.no_grad():
        values = piq.fsim(to_tensor01(dec, dev), to_tensor01(ref, dev), data_range=1.0, chromatic=True,
                          reduction="none").double().cpu().numpy()
    return {"fsim": values, "fsim_db": np.array([to_db(float(v)) for v in values]),
            "fsim_impl": f"piq {version('piq')} fsim(chromatic=True) on RGB [0, 1]", "metric_device": dev}
