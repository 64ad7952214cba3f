"""VSI, visual saliency-induced index (Zhang, Shen & Li 2014), through piq 0.8.0.

  - Input: 8-bit RGB -> float [0, 1] NCHW, data_range=1.  piq rescales to [0, 255], computes the SDSP
    saliency in CIELAB on a 256x256 resize, takes gradients and chroma in its LMN space, and
    average-pools the saliency and LMN planes by round(min(H, W) / 256) before comparing them.
  - dB form: -10 log10(1 - VSI), as for MS-SSIM (VSI sits at 0.98..0.999 across usual rates).
  - Calibration: the IQA-PyTorch `vsi` row is not from the authors' MATLAB (its notes say that code was
    not available) but from the IQA-optimization re-implementation (IQA_pytorch), which fails on
    today's torch (`torch.rfft` was removed).  piq is within 1.3e-2 of that row (measured 1.23e-2),
    the same values as pyiqa's own VSI; the tests assert that bound.  Read VSI as piq's.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, as_batch, column

_IN = "float RGB [0, 1], data_range=1 (piq scales to [0, 255]; pooled by round(min(H, W) / 256))"
SPECS = {
    "vsi": Metric(
        "vsi", __name__,
        {
            "vsi": column(higher_is_better=True, unit="", value_range=(0.0, 1.0), input_range=_IN,
                          colour_space="sRGB -> CIELAB / LMN (inside piq)", db="vsi_db", kind="perceptual", label="VSI"),
            "vsi_db": column(higher_is_better=True, unit="dB", value_range=(0.0, None), input_range=_IN,
                             colour_space="sRGB -> CIELAB / LMN (inside piq)", kind="perceptual", label="VSI [dB]",
                             db_of="vsi"),
        },
        uses_torch=True, description="VSI, piq 0.8.0",
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
        values = piq.vsi(to_tensor01(dec, dev), to_tensor01(ref, dev), data_range=1.0, reduction="none").double().cpu().numpy()
    return {"vsi": values, "vsi_db": np.array([to_db(float(v)) for v in values]),
            "vsi_impl": f"piq {version('piq')} vsi on RGB [0, 1]", "metric_device": dev}
