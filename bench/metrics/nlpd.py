"""NLPD, normalised Laplacian pyramid distance (Laparra, Ballé, Berardino & Simoncelli 2016), as JPEG
AI's framework computes it: IQA_pytorch 0.1's `NLPD(channels=1)` on Y'.

Which implementation, and how far it is from the official values:
  - JPEG AI's objective quality assessment framework pins `IQA-pytorch==0.1` (Keyan Ding, MIT) and
    calls its NLPD on Y' in [0, 1]; this module makes the same call, so its numbers are JPEG AI's.
  - It is not the authors' MATLAB `NLP_dist.m`, which gave the official calibration values: IQA_pytorch
    upsamples bilinearly and pads by reflection where the MATLAB code filters with zero insertion, and
    it is 1..7 % above the official values on the calibration pairs (max 0.027 absolute, measured on
    the 8-bit BT.601 grey pictures the official values were computed from; the order of the 5 pairs is
    the same).  tests/test_jpeg_ai_metrics.py asserts that gap, so a change of implementation shows.
  - No offline library reproduces NLP_dist.m: piq has no NLPD; pyiqa's comes within 1.1e-3 on the same
    grey pictures but is licensed PolyForm Noncommercial and imports cv2 and huggingface_hub.

  - Input: the luma plane of `bench.metrics.luma` (Y' of `metric_matrix`, full range, rounded to 10
    bits) as one channel, float [0, 1]: the filters and sigmas are for that range.  Lower is better; 0
    for identical pictures.
  - Pictures whose short side is under 65 px give NaN: the 6-level pyramid's coarsest level would be
    smaller than its 5x5 filter.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, as_batch, cached_net, column
from bench.metrics.luma import DEFAULT_BITS

_IN = "Y' float [0, 1] (metric_matrix, full range, 10-bit rounded)"
SPECS = {
    "nlpd": Metric(
        "nlpd", __name__,
        {"nlpd": column(higher_is_better=False, unit="", value_range=(0.0, None), input_range=_IN,
                        colour_space="Y' of metric_matrix", kind="perceptual", label="NLPD [lower is better]")},
        options={"bits": DEFAULT_BITS}, uses_torch=True, description="NLPD on Y', IQA_pytorch 0.1 (JPEG AI's)",
    ),
}
MIN_SIDE = 65


def _model(device: str):
    def build():
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            from IQA_pytorch.NLPD import NLPD
        return NLPD(channels=1).eval().to(device)

    return cached_net(("nlpd", device), build)


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  bits: int = DEFAULT_BITS, **_) -> dict:
    import warnings
    from importlib.metadata import version

    from bench.core.device import resolve_device
    from bench.metrics.luma import describe, score_on_luma

    def score(d, r):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # torch's align_corners notice from nn.Upsample
            return _model(resolve_device(device))(d, r, as_loss=False)

    values, dev = score_on_luma(ref, dec, score, matrix=matrix, bits=bits, device=device, min_side=MIN_SIDE)
    if values is None:
        return {"nlpd": np.full(len(as_batch(ref)), np.nan), "nlpd_impl": f"not measured: a side < {MIN_SIDE} px"}
    return {"nlpd": values, "nlpd_impl": f"IQA_pytorch {version('IQA_pytorch')} NLPD(channels=1) on {describe(matrix, bits)}",
            "metric_device": dev}
