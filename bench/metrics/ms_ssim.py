"""MS-SSIM on RGB, as CompressAI computes it, and its dB form.

The value is pytorch-msssim's `ms_ssim` on float [0, 255] NCHW tensors with data_range=255, five
scales, Gaussian window 11 (sigma 1.5), CompressAI's call.  Pictures whose short side is <= 160 px
cannot take five scales with that window; they get the largest odd window that fits, recorded in
`ms_ssim_win`.  The dB form is -10 log10(1 - MS-SSIM), per image; averages of dB and dB of averages
differ, and the table keeps per-image values so either can be derived.

Why by hand on the CPU.  pytorch-msssim's documented call (NCHW float tensors) takes ~95 ms for one
768x512 picture on one thread (~47 ms with CompressAI's channels-last tensors), and it holds ~150
bytes per pixel (five full-size float maps per filter pass): on JPEG it costs 30 times the codec, and
a 12000x8000 picture needs ~17 GB.  Another implementation (piq, torchmetrics, float64, a fused
formula) rounds differently, and rounding matters here: sigma^2 = E[x^2] - mu^2 cancels, so a
different float32 formula moved the value by up to 7e-5 on Kodak (flat sky, kodim20 at JPEG quality
5), and pytorch-msssim's own float32 and float64 results differ by 4.5e-5 there.  So `_ms_ssim_cpu` is pytorch-msssim's computation operation for operation in
float32, with the same oneDNN convolution (filtered along H, then W, as the library does: the
filtered maps are bit-identical to the library's whatever the channel count, memory layout or strip),
the same expressions in the same order, the same zero-padded 2x2 average pooling (exact in float32),
arranged for speed and memory:

  - the maps of a strip of rows (STRIP_SAMPLES input samples) are one channels-last tensor, oneDNN's
    fast depthwise path; strips stay in cache and bound the memory whatever the picture size;
  - the reference's pyramid and maps (mu1, mu1^2, sigma1^2 per scale) are computed once per picture
    and kept for the next rate point of the same picture (keyed by a digest of its bytes; pictures up
    to CACHE_BYTES of maps, ~2.6 MP): the next call filters three maps instead of five;
  - per-strip sums are accumulated in float64 (pytorch-msssim takes float32 means), and the powers and
    product of the five scales are taken in float64.

Only those summations differ, so values agree with pytorch-msssim within 1e-6 (1.1e-7 worst on the 24
Kodak pictures at JPEG 5/50/95; tests: bundled photos always, every Kodak picture when present).
On CUDA, pytorch-msssim itself runs (fast there).
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from bench.metrics.base import Metric, as_batch, column

SPECS = {
    "ms_ssim": Metric(
        "ms_ssim", __name__,
        {
            "ms_ssim_rgb": column(higher_is_better=True, unit="", value_range=(0.0, 1.0),
                                  input_range="float [0, 255], data_range=255", colour_space="RGB",
                                  db="ms_ssim_rgb_db", kind="structural", label="MS-SSIM (RGB)"),
            "ms_ssim_rgb_db": column(higher_is_better=True, unit="dB", value_range=(0.0, None),
                                     input_range="float [0, 255], data_range=255", colour_space="RGB",
                                     kind="structural", label="MS-SSIM-RGB [dB]", db_of="ms_ssim_rgb", primary=True),
        },
        uses_torch=True,
        description="pytorch-msssim, 5 scales, window 11 (smaller for short side <= 160 px)",
    ),
}

WEIGHTS = (0.0448, 0.2856, 0.3001, 0.2363, 0.1333)  # pytorch-msssim's (Wang et al. 2003)
K1, K2 = 0.01, 0.03
DATA_RANGE = 255.0
SIGMA = 1.5
STRIP_SAMPLES = 1 << 17  # input samples (rows x width x 3) per strip: cache-sized, and the memory bound


def ms_ssim_win(height: int, width: int) -> int:
    """Gaussian window for 5-scale MS-SSIM: 11 when the picture allows, else the largest odd fit."""
    short = min(height, width)
    win = 11
    while win > 3 and short <= (win - 1) * 16:
        win -= 2
    return win


def to_db(ms_ssim: float) -> float:
    if math.isnan(ms_ssim):
        return math.nan
    return math.inf if ms_ssim >= 1.0 else -10.0 * math.log10(1.0 - ms_ssim)


def reference_ms_ssim(ref: np.ndarray, dec: np.ndarray, win: int, device: str = "cpu") -> np.ndarray:
    """pytorch-msssim itself on a batch (N, H, W, 3) uint8: per-image MS-SSIM (the tests' and the
    benchmark's reference; the CUDA path)."""
    import torch
    from pytorch_msssim import ms_ssim

    def t(x):
        return torch.from_numpy(np.asarray(x, dtype=np.float32)).permute(0, 3, 1, 2).to(device)

    with torch.no_grad():
        values = ms_ssim(t(ref), t(dec), data_range=DATA_RANGE, win_size=win, size_average=False)
    return values.double().cpu().numpy()


def _window(win: int):
    from pytorch_msssim.ssim import _fspecial_gauss_1d  # the library's own window, bit for bit

    return _fspecial_gauss_1d(win, SIGMA).reshape(-1)


def _pool(a):
    """F.avg_pool2d(kernel 2, stride 2, padding=(h % 2, w % 2), count_include_pad=True) of an (H, W, C)
    tensor, in strips of rows, as float32.  An odd side gets one zero row/column in front (the pad
    behind is never reached); every window sum is exact, so the result is bit-identical."""
    import torch

    h, w, c = a.shape
    ph, pw = h % 2, w % 2
    oh, ow = (h + ph) // 2, (w + pw) // 2
    out = torch.empty((oh, ow, c), dtype=torch.float32)
    rows = max(1, STRIP_SAMPLES // (2 * (w + pw) * c))
    for o0 in range(0, oh, rows):
        o1 = min(oh, o0 + rows)
        # padded rows [2 o0, 2 o1) are original rows [2 o0 - ph, 2 o1 - ph)
        src0, src1 = max(0, 2 * o0 - ph), min(h, 2 * o1 - ph)
        if pw or src1 - src0 != 2 * (o1 - o0):
            blk = torch.zeros((2 * (o1 - o0), w + pw, c), dtype=torch.float32)
            blk[src0 - (2 * o0 - ph): src1 - (2 * o0 - ph), pw:] = a[src0:src1]
        else:
            blk = a[src0:src1].to(torch.float32)
        v = blk.view(o1 - o0, 2, ow, 2 * c)
        s = v[:, 0] + v[:, 1]  # (rows, ow, 2C): vertical pairs, then the two columns of each window
        out[o0:o1] = s[..., :c].add_(s[..., c:]).mul_(0.25)
    return out


def _filter(s, win_h, win_w):
    """Gaussian-filter the channels of an (rows, W, K) float32 strip: H first, then W, as pytorch-msssim
    does (the same order gives the same roundings).  (1, K, rows, W) in channels-last memory is oneDNN's
    fast depthwise path; the result comes back planar (K, rows - win + 1, W - win + 1)."""
    import torch.nn.functional as F

    k = s.shape[-1]
    return F.conv2d(F.conv2d(s[None].permute(0, 3, 1, 2), win_h, groups=k), win_w, groups=k)[0].contiguous()


def _windows(g, k):
    return g.view(1, 1, -1, 1).repeat(k, 1, 1, 1), g.view(1, 1, 1, -1).repeat(k, 1, 1, 1)


def _strip_rows(w: int, c: int) -> int:
    return max(8, STRIP_SAMPLES // (w * c))


def _scale_sums(x, y, g, last: bool, ref=None, fill=None) -> tuple[np.ndarray, np.ndarray | None]:
    """Means over one scale of pytorch-msssim's cs map (and, at the last scale, its ssim map), per
    channel.  x, y (H, W, C) tensors, uint8 or float32.  ref: the reference's maps of this scale
    [mu1, mu1^2, sigma1^2] (3C, Hv, Wv) from an earlier call; without them the five maps are filtered
    together (one 5C-channel strip) and, when `fill` (3C, Hv, Wv) is given, the reference's are kept
    there for the next call."""
    import torch

    h, w, c = x.shape
    win = g.numel()
    hv, wv = h - win + 1, w - win + 1
    k = 3 * c if ref is not None else 5 * c
    win_h, win_w = _windows(g, k)
    c1, c2 = (K1 * DATA_RANGE) ** 2, (K2 * DATA_RANGE) ** 2
    cs_sum = torch.zeros(c, dtype=torch.float64)
    ss_sum = torch.zeros(c, dtype=torch.float64)
    rows = _strip_rows(w, c)
    s = torch.empty((min(hv, rows) + win - 1, w, k), dtype=torch.float32)
    t = torch.empty((4 * c, min(hv, rows), wv), dtype=torch.float32)
    for r0 in range(0, hv, rows):
        r1 = min(hv, r0 + rows)
        n, n_in = r1 - r0, r1 - r0 + win - 1
        s_, t_ = s[:n_in], t[:, :n]
        if ref is not None:  # strip channels: Y, Y*Y, X*Y
            s_[..., :c] = y[r0:r0 + n_in]
            xs = x[r0:r0 + n_in]  # float32: the kept reference
            torch.mul(s_[..., :c], s_[..., :c], out=s_[..., c:2 * c])
            torch.mul(xs, s_[..., :c], out=s_[..., 2 * c:])
            f = _filter(s_, win_h, win_w)  # [mu2, filtered y*y, filtered x*y]
            mu2, g_yy, g_xy = f[:c], f[c:2 * c], f[2 * c:]
            mu1, mu1_sq, sigma1_sq = ref[:c, r0:r1], ref[c:2 * c, r0:r1], ref[2 * c:, r0:r1]
        else:  # strip channels: X, Y, X*X, Y*Y, X*Y
            s_[..., :c] = x[r0:r0 + n_in]
            s_[..., c:2 * c] = y[r0:r0 + n_in]
            torch.mul(s_[..., :2 * c], s_[..., :2 * c], out=s_[..., 2 * c:4 * c])
            torch.mul(s_[..., :c], s_[..., c:2 * c], out=s_[..., 4 * c:])
            f = _filter(s_, win_h, win_w)  # [mu1, mu2, filtered x*x, y*y, x*y]
            mu1, mu2, g_yy, g_xy = f[:c], f[c:2 * c], f[3 * c:4 * c], f[4 * c:]
            mu1_sq = torch.mul(mu1, mu1, out=t_[3 * c:])  # mu1.pow(2)
            sigma1_sq = f[2 * c:3 * c].sub_(mu1_sq)  # compensation 1.0
            if fill is not None:
                fill[:c, r0:r1], fill[c:2 * c, r0:r1], fill[2 * c:, r0:r1] = mu1, mu1_sq, sigma1_sq
        mu2_sq, mu1_mu2 = torch.mul(mu2, mu2, out=t_[:c]), torch.mul(mu1, mu2, out=t_[c:2 * c])
        sigma2_sq = g_yy.sub_(mu2_sq)
        sigma12 = g_xy.sub_(mu1_mu2)
        # cs_map = (2 * sigma12 + C2) / (sigma1_sq + sigma2_sq + C2), the same roundings, in place
        den = torch.add(sigma1_sq, sigma2_sq, out=t_[2 * c:3 * c]).add_(c2)
        cs_map = sigma12.mul_(2).add_(c2).div_(den)
        cs_sum += cs_map.sum(dim=(1, 2), dtype=torch.float64)
        if last:
            # ssim_map = ((2 * mu1_mu2 + C1) / (mu1_sq + mu2_sq + C1)) * cs_map
            lum = mu1_mu2.mul_(2).add_(c1).div_(mu2_sq.add_(mu1_sq).add_(c1))
            ss_sum += lum.mul_(cs_map).sum(dim=(1, 2), dtype=torch.float64)
    count = hv * wv
    return (cs_sum / count).numpy(), ((ss_sum / count).numpy() if last else None)


class _Reference:
    """The reference picture's pyramid and, once a first call has filtered them, its per-scale maps
    [mu1, mu1^2, sigma1^2], kept for the next call with the same picture: a sweep worker measures
    every rate point of one image in a row, and the next call then filters three maps instead of
    five.  Kept only when small (CACHE_BYTES): a large picture is measured strip by strip and keeps
    nothing but its pyramid."""

    def __init__(self, ref, keep: bool):
        import torch

        with warnings.catch_warnings():  # read-only pictures (the loader's cache): only read here
            warnings.simplefilter("ignore", UserWarning)
            x = torch.from_numpy(np.ascontiguousarray(ref))
        self.keep = keep
        self.xs = []  # the reference at each scale; kept ones as float32 (no cast per call)
        for level in range(len(WEIGHTS)):
            self.xs.append(x.to(torch.float32) if keep else x)
            if level < len(WEIGHTS) - 1:
                x = _pool(x)
        self.maps: list = [None] * len(WEIGHTS)


CACHE_BYTES = 128 << 20
_CACHE: dict = {}


def _reference(ref: np.ndarray, win: int) -> _Reference:
    import hashlib

    h, w = ref.shape[:2]
    keep = (9 + 3) * 4 * h * w * 4 / 3 <= CACHE_BYTES  # 3C float32 maps and x itself over the pyramid
    if not keep:
        return _Reference(ref, keep=False)
    key = (ref.shape, win, hashlib.sha1(np.ascontiguousarray(ref).data).hexdigest())
    if _CACHE.get("key") != key:
        _CACHE.clear()  # one picture at a time
        _CACHE.update(key=key, value=_Reference(ref, keep=True))
    return _CACHE["value"]


def _ms_ssim_cpu(ref: np.ndarray, dec: np.ndarray, win: int, reuse_ref: bool = True) -> float:
    """One picture pair (H, W, 3) uint8 -> pytorch-msssim's MS-SSIM (see the module docstring)."""
    import torch

    g = _window(win)
    reference = _reference(ref, win) if reuse_ref else _Reference(ref, keep=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        y = torch.from_numpy(np.ascontiguousarray(dec))
    values = []
    with torch.no_grad():
        for level, x in enumerate(reference.xs):
            last = level == len(reference.xs) - 1
            maps, fill = reference.maps[level], None
            if maps is None and reference.keep:
                h, w, c = x.shape
                fill = torch.empty((3 * c, h - win + 1, w - win + 1), dtype=torch.float32)
            cs, ss = _scale_sums(x, y, g, last, maps, fill)
            if fill is not None:  # complete: the next call with this picture uses it
                reference.maps[level] = fill
            if not last:
                values.append(np.maximum(cs, 0.0))
                y = _pool(y)
            else:
                values.append(np.maximum(ss, 0.0))
    per_channel = np.prod(np.stack(values) ** np.asarray(WEIGHTS)[:, None], axis=0)
    return float(per_channel.mean())


def _values(ref: np.ndarray, dec: np.ndarray, device: str = "cpu", reuse_ref: bool = True) -> tuple[np.ndarray, int]:
    """Per-image MS-SSIM of a batch (N, H, W, 3) and the window used."""
    n, h, w = ref.shape[:3]
    win = ms_ssim_win(h, w)
    if min(h, w) <= (win - 1) * 16:
        return np.full(n, math.nan), win
    if str(device).startswith("cuda"):
        return reference_ms_ssim(ref, dec, win, device), win
    return np.array([_ms_ssim_cpu(r, d, win, reuse_ref) for r, d in zip(ref, dec)]), win


def ms_ssim_rgb(ref: np.ndarray, dec: np.ndarray) -> tuple[float, int]:
    """One picture (H, W, 3): (MS-SSIM, window)."""
    values, win = _values(as_batch(ref), as_batch(dec))
    return float(values[0]), win


def too_small_note(height: int, width: int) -> str:
    win = ms_ssim_win(height, width)
    short = min(height, width)
    return f"short side {short} px <= {(win - 1) * 16}: too small for 5 scales even with window {win}" \
        if short <= (win - 1) * 16 else ""


def compute_batch(ref: np.ndarray, dec: np.ndarray, *, matrix: str = "bt709", device: str = "auto",
                  reuse_ref: bool = True, **_) -> dict:
    from bench.core.device import resolve_device

    ref, dec = as_batch(ref), as_batch(dec)
    values, win = _values(ref, dec, resolve_device(device), reuse_ref)
    out = {"ms_ssim_rgb": values, "ms_ssim_rgb_db": np.array([to_db(float(v)) for v in values]),
           "ms_ssim_win": np.full(len(values), win, dtype=np.int64)}
    note = too_small_note(*ref.shape[1:3])
    if note:
        out["metric_note"] = [note] * len(values)
    return out
