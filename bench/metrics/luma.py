"""The luma plane that JPEG AI's luma metrics read (MS-SSIM-Y, IW-SSIM, VIF, VIFp, NLPD, GMSD, PSNR-HVS(-M)).

Why one function: these metrics are defined on a grey-level picture, and their values at high quality
depend on how that picture was made (rounding alone doubles GMSD on a near-identical pair of the
calibration set: 0.00028 unrounded, 0.00052 rounded to 8 bits as the official value).  So every
luma metric here reads the same plane, made one way and recorded in its `<column>_impl`:

  - Y' = Kr R' + Kg G' + Kb B' of `metric_matrix` (BT.709 unless the sweep says otherwise), from the
    8-bit RGB scaled to [0, 1], full range (no 16..235 offset);
  - rounded half up to `bits` (10 by default) and returned as float64 code / (2^bits - 1) in [0, 1].

That is what JPEG AI's objective quality assessment framework does (the metrics package of the JPEG AI
reference software): BT.709 full range, every plane rounded to its internal bit depth, 10 by default
(`--internal-bits`), then the metrics on Y'.  The IQA-PyTorch calibration values
(`../shared/reference/iqa-calibration`) were computed by the metrics' MATLAB code on MATLAB's
`rgb2gray` of the 8-bit pictures, i.e. BT.601 weights rounded to 8 bits: the tests reach them through
this same function with matrix="bt601", bits=8.
"""

from __future__ import annotations

import numpy as np

from bench.metrics.base import as_batch

DEFAULT_BITS = 10


def luma(batch: np.ndarray, matrix: str = "bt709", bits: int = DEFAULT_BITS) -> np.ndarray:
    """uint8 RGB (N, H, W, 3) or (H, W, 3) -> float64 Y' (N, H, W) in [0, 1] on a 2^bits - 1 grid."""
    from bench.core.colour import MATRICES

    if matrix not in MATRICES:
        raise ValueError(f"unknown colour matrix {matrix!r} for luma; choose from {sorted(MATRICES)}")
    if not 8 <= int(bits) <= 16:
        raise ValueError(f"luma bit depth {bits} out of range 8..16")
    kr, kb = MATRICES[matrix]
    rgb = as_batch(batch).astype(np.float64) / 255.0
    y = kr * rgb[..., 0] + (1.0 - kr - kb) * rgb[..., 1] + kb * rgb[..., 2]
    peak = 2 ** int(bits) - 1
    return np.clip(np.floor(y * peak + 0.5), 0, peak) / peak


def describe(matrix: str = "bt709", bits: int = DEFAULT_BITS) -> str:
    """How the plane was made, for the `<column>_impl` record."""
    return f"Y' {matrix.upper().replace('BT', 'BT.')} full range, rounded to {int(bits)} bits"


def luma_tensor(batch: np.ndarray, matrix: str, bits: int, device: str):
    """The same plane as a float32 tensor (N, 1, H, W) in [0, 1] on `device` (piq and IQA_pytorch inputs)."""
    import torch

    return torch.from_numpy(luma(batch, matrix, bits).astype(np.float32)).unsqueeze(1).to(device)


def too_small(shape, min_side: int) -> bool:
    return min(int(shape[1]), int(shape[2])) < min_side


def score_on_luma(ref: np.ndarray, dec: np.ndarray, score, *, matrix: str, bits: int, device: str, min_side: int = 0):
    """(scores, device) of `score(decoded Y', reference Y')` (piq's order: the distorted picture first) over
    a batch, as float64 numpy, computed without autograd on the resolved device; (None, None) when a side
    is under `min_side`, for the caller's NaN with its reason.  One path for every torch luma metric, so
    they all read the plane the same way."""
    import torch

    from bench.core.device import resolve_device

    ref, dec = as_batch(ref), as_batch(dec)
    if too_small(ref.shape, min_side):
        return None, None
    dev = resolve_device(device)
    with torch.no_grad():
        values = score(luma_tensor(dec, matrix, bits, dev), luma_tensor(ref, matrix, bits, dev))
    return values.double().cpu().numpy(), dev
