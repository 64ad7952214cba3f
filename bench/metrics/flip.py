"""NVIDIA FLIP (Andersson et al., HPG 2020), LDR mode, through the official `flip-evaluator` wheel.

Why FLIP as the extra weight-free perceptual metric: it is one pip wheel (the authors' own C++
implementation with Python bindings, BSD-3, numpy only, no network, no apt package, no root), it
models viewing distance (pixels per degree) and colour (it compares in a perceptual colour space,
where VMAF reads luma only), and it gives an error map as well as a mean.  The alternatives
considered: Butteraugli needs Debian's libjxl-devtools (apt, root) and a process plus PNG files per
picture; ColorVideoVDP pulls a larger PyTorch package with display models; piq's FSIM/VIF are
classical structural indices rather than a separate perceptual model.

  - Input: 8-bit sRGB -> float32 [0, 1] HxWx3 (LDR-FLIP expects sRGB in [0, 1]).
  - Viewing condition: the package default, 67 pixels per degree (0.7 m from a 0.7 m wide
    3840-pixel display); recorded in `flip_impl`.
  - Score: the mean of the per-pixel FLIP error map, in [0, 1], lower is better.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import Metric, as_batch, column

SPECS = {
    "flip": Metric(
        "flip", __name__,
        {"flip": column(higher_is_better=False, unit="", value_range=(0.0, 1.0), input_range="float sRGB [0, 1]",
                        colour_space="sRGB -> YyCxCz / L*a*b* (inside FLIP)", kind="perceptual",
                        label="FLIP (LDR, 67 ppd) [lower is better]")},
        description="NVIDIA FLIP, flip-evaluator, LDR, 67 pixels per degree",
    ),
}


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto", **_) -> dict:
    from importlib.metadata import version

    import flip_evaluator

    ref, dec = as_batch(ref), as_batch(dec)
    values, params = [], {}
    for r, d in zip(ref, dec):
        r32 = np.ascontiguousarray(r, dtype=np.float32) / 255.0
        d32 = np.ascontiguousarray(d, dtype=np.float32) / 255.0
        _, mean, params = flip_evaluator.evaluate(r32, d32, "LDR", applyMagma=False, computeMeanError=True)
        values.append(float(mean))
    ppd = params.get("ppd", float("nan"))
    return {"flip": np.array(values), "flip_impl": f"flip-evaluator {version('flip-evaluator')} LDR ppd={ppd:.2f}"}
