"""VIF, visual information fidelity in the wavelet domain (Sheikh & Bovik 2006): the `vifvec.m` of LIVE,
the definition behind the official calibration values (IQA-PyTorch's `vif` row).

Why written here (about 60 lines on top of a library): no library computes this VIF offline and right.
  - piq 0.8.0 has only `vif_p`, the pixel-domain variant (bench metric `vifp`): up to 0.053 away from
    the official values.
  - IQA_pytorch 0.1 (MIT) has a wavelet `VIF`, but it calls `torch.symeig`, removed in torch 1.9; run
    with that call restored it gives 0.227 where the official value is 0.0172 (calibration pair I03).
  - pyiqa 0.1.16 reproduces the values (within 4.2e-4), but it is licensed PolyForm Noncommercial
    (this project is MIT) and `import pyiqa` needs cv2 and huggingface_hub; it loads offline only with
    those modules faked.
So the wavelet transform comes from `pyrtools` (MIT, the LabForComputationalVision port of
matlabPyrTools that vifvec.m calls): `SteerablePyramidSpace(height=4, order=5, edge_type="reflect1")`
is `buildSpyr(im, 4, 'sp5Filters', 'reflect1')`, and `pyrtools.corrDn` is the `corrDn` that vifvec
uses for its windows.  What is written here is vifvec's own statistics, step by step:
  - subbands: the pyramid in `ind2wtree` order (coarsest first), bands 4 7 10 13 16 19 22 25
    (orientations 0 and 3 of each of the 4 levels), M = 3, sigma_nsq = 0.4;
  - distortion channel (`vifsub_est_M`): gain g and noise variance vv per 3x3 block from a
    (2^lev + 1)^2 window, with vifvec's clean-up of negative or tiny variances (tol 1e-15);
  - reference GSM (`refparams_vecgsm`): covariance of all overlapping 3x3 blocks, its eigenvalues, and
    the field s^2 = x' C^-1 x / 9 of the non-overlapping blocks;
  - VIF = sum of the distorted-image information over sum of the reference information, after
    dropping ceil((winsize - 1) / 2 / M) border blocks of each subband.
Checked against the official values within 1e-4 (measured 3.8e-5, at the 4 decimals they are given
with; tests/test_jpeg_ai_metrics.py), and by properties (1 for identical pictures, 0 for a flat one,
above 1 for a contrast stretch, as the paper says).

  - Input: the luma plane of `bench.metrics.luma` (Y' of `metric_matrix`, full range, rounded to 10
    bits) scaled to [0, 255], float64: sigma_nsq = 0.4 is on that scale.  Higher is better; 1 means
    no information lost; a contrast-enhanced picture can exceed 1.
  - Pictures whose short side is under 72 px give NaN: the 4-level sp5 pyramid does not fit.
  - Cost: about 0.35 CPU-seconds per 768x512 picture (numpy, one thread; no GPU path).
"""

from __future__ import annotations

import math

import numpy as np

from bench.metrics.base import Metric, as_batch, column
from bench.metrics.luma import DEFAULT_BITS

_IN = "Y' float [0, 255] (metric_matrix, full range, 10-bit rounded)"
SPECS = {
    "vif": Metric(
        "vif", __name__,
        {"vif": column(higher_is_better=True, unit="", value_range=(0.0, None), input_range=_IN,
                       colour_space="Y' of metric_matrix", kind="perceptual", label="VIF (wavelet)")},
        options={"bits": DEFAULT_BITS}, description="VIF in the steerable-pyramid domain (vifvec), pyrtools + numpy",
    ),
}
M = 3
SUBBANDS = (4, 7, 10, 13, 16, 19, 22, 25)
SIGMA_NSQ = 0.4
TOL = 1e-15
LEVELS, ORDER = 4, 5
MIN_SIDE = 72


def _wtree(img: np.ndarray) -> list[np.ndarray]:
    """The subbands in ind2wtree order: index n (1-based, as in vifvec) is wtree[n - 1]."""
    import pyrtools

    pyr = pyrtools.pyramids.SteerablePyramidSpace(img, height=LEVELS, order=ORDER, edge_type="reflect1")
    c = pyr.pyr_coeffs
    bands = [c["residual_highpass"]] + [c[(lev, b)] for lev in range(LEVELS) for b in range(ORDER + 1)]
    return (bands + [c["residual_lowpass"]])[::-1]


def _level(n: int) -> int:
    return math.ceil((n - 1) / 6)


def _crop(y: np.ndarray) -> np.ndarray:
    return y[: y.shape[0] // M * M, : y.shape[1] // M * M]


def _channel(y: np.ndarray, yn: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """vifsub_est_M for one subband: gain g and distortion variance vv per MxM block."""
    import pyrtools

    win = np.ones((2 ** _level(n) + 1,) * 2)
    area = win.size
    y, yn = _crop(y), _crop(yn)
    start = (M // 2, M // 2)
    stop = (y.shape[0] - math.ceil(M / 2) + 1, y.shape[1] - math.ceil(M / 2) + 1)

    def corr(a, f):
        return pyrtools.corrDn(a, f, "reflect1", (M, M), start, stop)

    mean_x, mean_y = corr(y, win / area), corr(yn, win / area)
    cov = corr(y * yn, win) - area * mean_x * mean_y
    ss_x = np.maximum(corr(y * y, win) - area * mean_x**2, 0)
    ss_y = np.maximum(corr(yn * yn, win) - area * mean_y**2, 0)
    g = cov / (ss_x + TOL)
    vv = (ss_y - g * cov) / area
    small_x, small_y = ss_x < TOL, ss_y < TOL
    g[small_x] = 0
    vv[small_x] = ss_y[small_x]
    g[small_y] = 0
    vv[small_y] = 0
    neg = g < 0
    vv[neg] = ss_y[neg]
    g[neg] = 0
    vv[vv <= TOL] = TOL
    return g, vv


def _gsm(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """refparams_vecgsm for one subband: the s^2 field of the non-overlapping MxM blocks and the
    eigenvalues of the block covariance."""
    y = _crop(y)
    h, w = y.shape
    shifts = [(k, j) for j in range(M) for k in range(M)]
    every = np.stack([y[k: h - (M - k) + 1, j: w - (M - j) + 1].ravel() for k, j in shifts])
    every = every - every.mean(axis=1, keepdims=True)
    cu = every @ every.T / every.shape[1]
    blocks = np.stack([y[k::M, j::M].ravel() for k, j in shifts])
    ss = np.sum((np.linalg.inv(cu) @ blocks) * blocks, axis=0) / (M * M)
    return ss.reshape(h // M, w // M), np.linalg.eigvalsh(cu)


def vif(ref: np.ndarray, dist: np.ndarray) -> float:
    """vifvec(ref, dist) of two grey pictures (H, W) on the [0, 255] scale."""
    org = _wtree(np.asarray(ref, dtype=np.float64))
    dis = _wtree(np.asarray(dist, dtype=np.float64))
    num = den = 0.0
    for n in SUBBANDS:
        g, vv = _channel(org[n - 1], dis[n - 1], n)
        ss, lam = _gsm(org[n - 1])
        off = math.ceil((2 ** _level(n)) / 2 / M)  # ceil(((winsize - 1) / 2) / M)
        keep = (slice(off, -off), slice(off, -off))
        g, vv, ss = g[keep], vv[keep], ss[keep]
        for lj in lam:
            num += float(np.sum(np.log2(1 + g * g * ss * lj / (vv + SIGMA_NSQ))))
            den += float(np.sum(np.log2(1 + ss * lj / SIGMA_NSQ)))
    return num / den


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  bits: int = DEFAULT_BITS, **_) -> dict:
    from importlib.metadata import version

    from bench.metrics.luma import describe, luma, too_small

    ref, dec = as_batch(ref), as_batch(dec)
    if too_small(ref.shape, MIN_SIDE):
        return {"vif": np.full(len(ref), np.nan), "vif_impl": f"not measured: a side < {MIN_SIDE} px (4-level sp5 pyramid)"}
    yr, yd = luma(ref, matrix, bits) * 255.0, luma(dec, matrix, bits) * 255.0
    values = np.array([vif(r, d) for r, d in zip(yr, yd)])
    impl = f"vifvec port on pyrtools {version('pyrtools')} sp5 pyramid; {describe(matrix, bits)}, [0, 255]"
    return {"vif": values, "vif_impl": impl}
