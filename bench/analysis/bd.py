"""Bjøntegaard deltas on any metric of a sweep, with bootstrap confidence intervals over images.

Command: `bench bd results/<sweep> [--anchor CODEC] [--metrics ...] [--method pchip|akima|cubic]
[--boot 1000] [--published FILE.json ...] [--csv OUT.csv]` (bench.cli.bd).

What is computed (every number names its definition):
  - BD-rate [%]: average horizontal gap between two RD curves over their overlapping quality range,
    in log10(rate), as a percentage: negative = the test codec needs fewer bits for the same
    quality.  BD-metric: average vertical gap (test - anchor) over the overlapping log-rate range,
    in the metric's own unit; the sign that means "better" follows the metric's direction.
  - The curves are the dataset-averaged curves of `bench.results.tables.summarize` (the mean over images of
    per-image bpp and of the per-image metric), restricted to the images both codecs have at all of
    their points.
  - The interpolation is the `bjontegaard` package's (FAU-LMS, 1.3.0): pchip by default (JVET CTC
    practice; the package states it matches the JVET Excel sheet), akima and cubic on request.
    Unequal point counts are allowed.  Its overlap warnings are captured and returned with each
    result, never swallowed.
  - Direction: metrics come from `bench.metrics.METRICS`; a lower-is-better metric (e.g. LPIPS) is
    negated before the package sees it, so the package always integrates a rising curve; BD-rate
    is unchanged by the flip, BD-metric is flipped back to the metric's own sign.
  - MS-SSIM goes through its dB form: asking for `ms_ssim_rgb` computes on `ms_ssim_rgb_db`.
  - Bootstrap CI (percentile): resample the images with replacement (seeded), recompute both mean
    curves on the resampled set, recompute the BD; report the 2.5 / 97.5 percentiles (95 %).
    Per-image BD-rate: the BD-rate of each image's own curve pair.
  - Aggregations, side by side (they differ; DCVC reports both, JPEG AI the per-image mean):
    "mean curves" = the BD of the dataset-averaged curves (above); "per-image mean" / "per-image
    median" = the mean / median over images of the per-image BD-rates (images whose own curves give
    no BD are left out and counted).  Their CIs come from the same bootstrap resamples of images.
  - Paired test: P(fewer bits) = the fraction of bootstrap resamples (the same images for both
    codecs) in which the test's BD-rate against the anchor is negative, i.e. the bootstrap
    probability that the test needs fewer bits than the anchor at equal quality.  Resamples without
    a BD are left out and counted.  `paired_probabilities` gives it for every pair of codecs.
    P(better at equal rate): the same for the BD-metric (the matched-rate difference), on the side of
    0 that the metric's direction calls better; the paired test of the matched-rate fallback.
  - Sensitivity: the BD-rate of the mean curves under pchip, akima and cubic, and under the chosen
    method with each single rate point left out of one of the two curves (leave-one-point-out, a
    curve keeps at least 3 points); each with its range (min, max).  A range is flagged when it is
    wider than the bootstrap CI (max - min > CI high - CI low).
  - Matched rate: when the curves share no quality range (BD-rate undefined) but do share a rate
    range, the comparison falls back to the metric difference at equal rate: test - anchor averaged
    over the common log10(bpp) range, the BD-metric definition (same interpolation), with its
    bootstrap CI and P(better at equal rate); the result says `basis = "matched rate"` and reports no
    BD-rate CI or P(fewer bits) (resamples that happen to overlap would describe other curves).

Why a vectorised PCHIP beside the package: the package builds one scipy interpolator per call
(~1.3 ms here), so 1000 resamples x every codec x every metric would take tens of seconds to
minutes per report.  For pchip the resamples are evaluated by `_pchip_bd_batch`, a numpy transcription
of scipy's PchipInterpolator (the one the package uses) and its exact integral; every call checks it
against the package's own value on the unresampled curves and falls back to the package loop if the
two differ.  Point estimates and per-image values always come from the package.
"""

from __future__ import annotations

import math
import re
import warnings
from dataclasses import dataclass, field
from typing import Any, Iterable, Sequence

import numpy as np
import pandas as pd

from bench import metrics as M
from bench.core.errors import BenchError
from bench.core.text import align

METHODS = ("pchip", "akima", "cubic")
MIN_OVERLAP = 0.75  # the package's default: below it, it warns (and so do we)
# Default anchor: the VVC intra codec; then HEVC intra; then the first codec by name.
ANCHOR_PREFERENCE = (r"^vtm", r"^vvenc", r"vvc", r"h\.?266", r"^hm($|_)", r"^x265", r"hevc")


# ----------------------------------------------------------------------------------------- metrics


metric_info = M.info  # direction and unit of a column: declared once, in bench.metrics
bd_column = M.bd_column  # MS-SSIM through its dB form


def available_metrics(df: pd.DataFrame) -> list[str]:
    """Every declared metric with values in the rows, in METRICS order, dB forms replacing raw MS-SSIM."""
    out: list[str] = []
    for m in M.METRICS:
        col = bd_column(m)
        if col in df and pd.to_numeric(df[col], errors="coerce").notna().any() and col not in out:
            out.append(col)
    return out


# ---------------------------------------------------------------------------- one pair of curves


@dataclass
class BD:
    bd_rate: float  # percent; negative = the test needs fewer bits at equal quality
    bd_metric: float  # test - anchor at equal rate, in the metric's unit
    warnings: list[str] = field(default_factory=list)


def _clean(rate, value, who: str, notes: list[str]) -> tuple[np.ndarray, np.ndarray]:
    rate = np.asarray(rate, dtype=float)
    value = np.asarray(value, dtype=float)
    if rate.shape != value.shape:
        raise ValueError(f"{who}: {rate.size} rates but {value.size} metric values")
    ok = np.isfinite(rate) & np.isfinite(value) & (rate > 0)
    if not ok.all():
        notes.append(f"{who}: dropped {int((~ok).sum())} point(s) with non-finite or non-positive values")
    return rate[ok], value[ok]


def _call(fn, *args, notes: list[str], prefix: str, **kw) -> float:
    """Call a bjontegaard function, recording every warning it raises (and its printouts' reasons)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            value = float(fn(*args, **kw))
        except (ValueError, np.linalg.LinAlgError, AssertionError) as exc:
            notes.append(f"{prefix}: failed: {type(exc).__name__}: {exc}".rstrip(": "))
            value = math.nan
    axis = "quality" if prefix == "BD-rate" else "log-rate"
    for w in caught:
        msg = str(w.message)
        m = re.match(r"Insufficient curve overlap: '([\d.]+)'\. Minimum overlap: '([\d.]+)'", msg)
        if m:  # the package's wording, made self-explanatory
            msg = f"curves overlap on only {float(m[1]):.1f} % of their joint {axis} range (minimum {float(m[2]):.0f} %)"
        elif msg.startswith("Curves do not overlap"):
            msg = f"curves do not overlap in {axis}: BD undefined"
        notes.append(f"{prefix}: {msg}")
    return value


def bd(rate_anchor, metric_anchor, rate_test, metric_test, *, method: str = "pchip",
       higher_is_better: bool = True, min_overlap: float = MIN_OVERLAP, anchor: str = "anchor", test: str = "test") -> BD:
    """BD-rate and BD-metric of one test curve against one anchor curve (any point counts, any order)."""
    import bjontegaard

    if method not in METHODS:
        raise ValueError(f"method must be one of {METHODS}, not {method!r}")
    notes: list[str] = []
    ra, ma = _clean(rate_anchor, metric_anchor, anchor, notes)
    rt, mt = _clean(rate_test, metric_test, test, notes)
    if len(ra) < 2 or len(rt) < 2:
        notes.append(f"need at least 2 points per curve ({anchor}: {len(ra)}, {test}: {len(rt)})")
        return BD(math.nan, math.nan, notes)
    sign = 1.0 if higher_is_better else -1.0
    qa, qt = sign * ma, sign * mt  # "quality", rising with rate for a well-behaved codec
    for who, r, q in ((anchor, ra, qa), (test, rt, qt)):
        o = np.argsort(r)
        if np.any(np.diff(q[o]) <= 0):
            notes.append(f"{who}: curve is not monotone (quality does not rise with every rate step); "
                         "interpolating over the points sorted by quality")
        if len(np.unique(q)) < len(q) or len(np.unique(r)) < len(r):
            notes.append(f"{who}: repeated rate or metric values; BD undefined")
            return BD(math.nan, math.nan, notes)
    if method == "cubic" and min(len(ra), len(rt)) < 4:
        notes.append("cubic needs 4 points per curve for a determined fit")
    # BD-rate: log-rate as a function of quality -> sort by quality.
    oa, ot = np.argsort(qa), np.argsort(qt)
    rate = _call(bjontegaard.bd_rate, ra[oa], qa[oa], rt[ot], qt[ot], method=method, require_matching_points=False,
                 min_overlap=min_overlap, notes=notes, prefix="BD-rate")
    # BD-metric: quality as a function of log-rate -> sort by rate.
    oa, ot = np.argsort(ra), np.argsort(rt)
    dq = _call(bjontegaard.bd_psnr, ra[oa], qa[oa], rt[ot], qt[ot], method=method, require_matching_points=False,
               min_overlap=min_overlap, notes=notes, prefix="BD-metric")
    return BD(rate, sign * dq, notes)


# ------------------------------------------------------------------- vectorised PCHIP (bootstrap)


def _pchip_derivatives(h: np.ndarray, m: np.ndarray) -> np.ndarray:
    """scipy.interpolate.PchipInterpolator._find_derivatives, row-wise over a batch (B, n-1) -> (B, n)."""
    B, k = m.shape
    if k == 1:
        return np.concatenate([m, m], axis=1)
    d = np.zeros((B, k + 1))
    smk = np.sign(m)
    cond = (smk[:, 1:] != smk[:, :-1]) | (m[:, 1:] == 0) | (m[:, :-1] == 0)
    w1 = 2 * h[:, 1:] + h[:, :-1]
    w2 = h[:, 1:] + 2 * h[:, :-1]
    with np.errstate(divide="ignore", invalid="ignore"):
        whmean = (w1 / m[:, :-1] + w2 / m[:, 1:]) / (w1 + w2)
        d[:, 1:-1] = np.where(cond, 0.0, 1.0 / whmean)

    def edge(h0, h1, m0, m1):
        with np.errstate(divide="ignore", invalid="ignore"):
            e = ((2 * h0 + h1) * m0 - h0 * m1) / (h0 + h1)
        mask = np.sign(e) != np.sign(m0)
        mask2 = (np.sign(m0) != np.sign(m1)) & (np.abs(e) > 3.0 * np.abs(m0))
        return np.where(mask, 0.0, np.where(mask2, 3.0 * m0, e))

    d[:, 0] = edge(h[:, 0], h[:, 1], m[:, 0], m[:, 1])
    d[:, -1] = edge(h[:, -1], h[:, -2], m[:, -1], m[:, -2])
    return d


def _pchip_integral(x: np.ndarray, y: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Exact integral over [lo, hi] of the PCHIP through each row's (x, y); x ascending per row."""
    h = np.diff(x, axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        m = np.diff(y, axis=1) / h
        d = _pchip_derivatives(h, m)
        c3 = (d[:, :-1] + d[:, 1:] - 2 * m) / h**2
        c2 = (3 * m - 2 * d[:, :-1] - d[:, 1:]) / h
    c1, c0 = d[:, :-1], y[:, :-1]

    def prim(s):
        return ((c3 * s / 4 + c2 / 3) * s + c1 / 2) * s * s + c0 * s

    x0 = x[:, :-1]
    s_hi = np.clip(hi[:, None] - x0, 0, h)
    s_lo = np.clip(lo[:, None] - x0, 0, h)
    with np.errstate(invalid="ignore"):
        return np.sum(prim(s_hi) - prim(s_lo), axis=1)


def _sorted_rows(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    o = np.argsort(x, axis=1)
    return np.take_along_axis(x, o, 1), np.take_along_axis(y, o, 1)


def _pchip_bd_batch(ra, qa, rt, qt, *, kind: str) -> np.ndarray:
    """BD-rate [%] (kind='rate') or BD-quality (kind='metric') for a batch of curve pairs (rows).
    Same definition as the package with method='pchip'; NaN where the curves do not overlap."""
    la, lt = np.log10(ra), np.log10(rt)
    if kind == "rate":
        xa, ya = _sorted_rows(qa, la)
        xt, yt = _sorted_rows(qt, lt)
    else:
        xa, ya = _sorted_rows(la, qa)
        xt, yt = _sorted_rows(lt, qt)
    lo = np.maximum(xa[:, 0], xt[:, 0])
    hi = np.minimum(xa[:, -1], xt[:, -1])
    with np.errstate(invalid="ignore", divide="ignore"):
        avg = (_pchip_integral(xt, yt, lo, hi) - _pchip_integral(xa, ya, lo, hi)) / (hi - lo)
    avg = np.where(hi > lo, avg, np.nan)
    return (10.0**avg - 1.0) * 100.0 if kind == "rate" else avg


# --------------------------------------------------------------------------- curves from the rows


@dataclass
class Curves:
    """One codec's RD points for one metric: per image (rows) or a published mean curve (one row)."""

    codec: str
    metric: str
    points: list
    bpp: np.ndarray  # (n_images, n_points)
    value: np.ndarray  # (n_images, n_points)
    images: list[str] | None  # None: a published mean, no per-image values
    dataset: str = ""
    dropped: list[str] = field(default_factory=list)  # images left out (missing / failed / non-finite)
    notes: list[str] = field(default_factory=list)

    @property
    def published(self) -> bool:
        return self.images is None

    def subset(self, images: Sequence[str]) -> "Curves":
        if self.images is None:
            return self
        idx = [self.images.index(i) for i in images]
        return Curves(self.codec, self.metric, self.points, self.bpp[idx], self.value[idx], list(images), self.dataset,
                      self.dropped, self.notes)

    def mean(self) -> tuple[np.ndarray, np.ndarray]:
        return self.bpp.mean(axis=0), self.value.mean(axis=0)


def curves_from_rows(df: pd.DataFrame, codec: str, metric: str) -> Curves:
    """Per-image curves of one codec: images x points, keeping only images that have every point of
    the codec (the points any of its ok rows has) with finite bpp and metric."""
    ok = df[(df["codec"] == codec) & (df.get("status", "ok") == "ok")]
    if ok.empty:
        raise KeyError(f"codec {codec!r} has no ok rows (codecs: {', '.join(sorted(df['codec'].unique()))})")
    if metric not in ok:
        raise KeyError(f"no column {metric!r} in the rows")
    datasets = sorted(ok["dataset"].astype(str).unique()) if "dataset" in ok else [""]
    ok = ok.assign(_img=ok["image"].astype(str) if len(datasets) <= 1 else ok["dataset"].astype(str) + "/" + ok["image"].astype(str))
    notes = []
    dup = int(ok.duplicated(["_img", "point"]).sum())
    if dup:
        notes.append(f"{codec}: {dup} (image, point) pair(s) have several ok rows (e.g. an older configuration of the "
                     "same codec name); averaged, as summarize() does")
    bpp = ok.pivot_table(index="_img", columns="point", values="bpp", aggfunc="mean")
    val = ok.pivot_table(index="_img", columns="point", values=metric, aggfunc="mean", dropna=False)
    val = val.reindex(index=bpp.index, columns=bpp.columns)
    b, v = bpp.to_numpy(float), val.to_numpy(float)
    good = np.isfinite(b).all(1) & np.isfinite(v).all(1) & (b > 0).all(1)
    images = [str(i) for i in bpp.index]
    dropped = [i for i, g in zip(images, good) if not g]
    return Curves(codec, metric, list(bpp.columns), b[good], v[good], [i for i, g in zip(images, good) if g],
                  ",".join(datasets), dropped, notes)


def curves_from_published(pub, metric: str) -> Curves:
    """A published (CompressAI JSON) mean curve, see bench.published."""
    c = pub.curve
    if metric not in c or c[metric].isna().all():
        raise KeyError(f"published {pub.name!r} has no {metric!r}")
    c = c[np.isfinite(c["bpp"]) & np.isfinite(c[metric])]
    return Curves(pub.name, metric, list(c["point"]), c["bpp"].to_numpy(float)[None, :], c[metric].to_numpy(float)[None, :],
                  None, pub.dataset or "")


# -------------------------------------------------------------------------------- sensitivity


@dataclass
class Sensitivity:
    """How much one BD of the mean curves moves with the interpolation and with the choice of rate points.

    methods: {method: (BD-rate %, BD-metric)} for pchip, akima and cubic.
    leave_one_out: [(curve, point, BD-rate %, BD-metric)]: the chosen method with one point of one curve
    ("anchor" or "test") left out; only curves with at least 3 points lose one."""

    method: str
    methods: dict[str, tuple[float, float]] = field(default_factory=dict)
    leave_one_out: list[tuple[str, Any, float, float]] = field(default_factory=list)
    ci_width: float = math.nan  # of the quantity the comparison reports (BD-rate, or the matched-rate delta)
    quantity: str = "bd_rate"  # "bd_rate" or "bd_metric" (matched-rate fallback)

    def _values(self, which: str) -> np.ndarray:
        k = 0 if self.quantity == "bd_rate" else 1
        vals = [v[k] for v in self.methods.values()] if which == "methods" else [v[2 + k] for v in self.leave_one_out]
        vals = np.array(vals, dtype=float)
        return vals[np.isfinite(vals)]

    def range(self, which: str) -> tuple[float, float]:
        """(min, max) of the reported quantity over the methods ('methods') or the leave-one-out subsets ('loo')."""
        v = self._values(which)
        return (float(v.min()), float(v.max())) if len(v) else (math.nan, math.nan)

    def wider_than_ci(self, which: str) -> bool:
        lo, hi = self.range(which)
        return bool(np.isfinite(lo) and np.isfinite(self.ci_width) and (hi - lo) > self.ci_width)

    def row(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for m in METHODS:
            r, d = self.methods.get(m, (math.nan, math.nan))
            out[f"bd_rate_{m}"], out[f"bd_metric_{m}"] = r, d
        for which, name in (("methods", "method"), ("loo", "loo")):
            lo, hi = self.range(which)
            out[f"{name}_range_low"], out[f"{name}_range_high"] = lo, hi
            out[f"{name}_range_wider_than_ci"] = self.wider_than_ci(which)
        out["loo_n"] = len(self.leave_one_out)
        out["sensitivity_quantity"] = self.quantity
        return out


def bd_sensitivity(a_pts: Sequence, ab, av, t_pts: Sequence, tb, tv, *, method: str = "pchip", higher_is_better: bool = True,
                min_overlap: float = MIN_OVERLAP) -> Sensitivity:
    """BD of one pair of (mean) curves under every interpolation method and every leave-one-point-out subset."""
    ab, av, tb, tv = (np.asarray(x, dtype=float) for x in (ab, av, tb, tv))
    out = Sensitivity(method)
    kw = dict(higher_is_better=higher_is_better, min_overlap=min_overlap)
    for m in METHODS:
        r = bd(ab, av, tb, tv, method=m, **kw)
        out.methods[m] = (r.bd_rate, r.bd_metric)
    for side, pts, b, v in (("anchor", list(a_pts), ab, av), ("test", list(t_pts), tb, tv)):
        if len(b) < 3:
            continue
        for j in range(len(b)):
            keep = np.arange(len(b)) != j
            if side == "anchor":
                r = bd(ab[keep], av[keep], tb, tv, method=method, **kw)
            else:
                r = bd(ab, av, tb[keep], tv[keep], method=method, **kw)
            out.leave_one_out.append((side, pts[j], r.bd_rate, r.bd_metric))
    return out


# ------------------------------------------------------------------------------ one comparison


@dataclass
class Comparison:
    anchor: str
    test: str
    metric: str
    unit: str
    higher_is_better: bool
    method: str
    bd_rate: float
    bd_metric: float
    bd_rate_ci: tuple[float, float] = (math.nan, math.nan)
    bd_metric_ci: tuple[float, float] = (math.nan, math.nan)
    ci_level: float = 0.95
    n_images: int = 0
    n_boot: int = 0
    n_boot_failed: int = 0
    per_image: dict[str, float] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    anchor_points: list[tuple] = field(default_factory=list)  # (point, bpp, metric) of the mean curve
    test_points: list[tuple] = field(default_factory=list)
    # aggregations of the per-image BD-rates, with CIs from the same bootstrap resamples
    per_image_mean_ci: tuple[float, float] = (math.nan, math.nan)
    per_image_median_ci: tuple[float, float] = (math.nan, math.nan)
    per_image_metric: dict[str, float] = field(default_factory=dict)  # per-image BD-metric (matched-rate delta)
    # paired test: fraction of the bootstrap resamples with BD-rate < 0 (over n_boot_valid resamples)
    p_fewer_bits: float = math.nan
    p_more_bits: float = math.nan  # fraction with BD-rate > 0 (the rest: exact ties)
    n_boot_valid: int = 0
    p_better_equal_rate: float = math.nan  # fraction of the resamples with BD-metric on the better side of 0
    sensitivity: "Sensitivity | None" = None
    basis: str = "BD-rate"  # "BD-rate", "matched rate" (no common quality range) or "none"

    @property
    def per_image_values(self) -> np.ndarray:
        return np.array([v for v in self.per_image.values() if np.isfinite(v)])

    @property
    def per_image_mean(self) -> float:
        pi = self.per_image_values
        return float(pi.mean()) if len(pi) else math.nan

    @property
    def per_image_median(self) -> float:
        pi = self.per_image_values
        return float(np.median(pi)) if len(pi) else math.nan

    @property
    def per_image_undefined(self) -> int:
        return sum(1 for v in self.per_image.values() if not np.isfinite(v))

    def row(self) -> dict[str, Any]:
        pi = self.per_image_values
        s = self.sensitivity
        return {
            "anchor": self.anchor, "codec": self.test, "metric": self.metric, "unit": self.unit,
            "higher_is_better": self.higher_is_better, "method": self.method,
            "bd_rate": self.bd_rate, "bd_rate_ci_low": self.bd_rate_ci[0], "bd_rate_ci_high": self.bd_rate_ci[1],
            "bd_metric": self.bd_metric, "bd_metric_ci_low": self.bd_metric_ci[0], "bd_metric_ci_high": self.bd_metric_ci[1],
            "ci_level": self.ci_level, "n_images": self.n_images, "n_boot": self.n_boot, "n_boot_failed": self.n_boot_failed,
            "per_image_n": len(pi), "per_image_median": float(np.median(pi)) if len(pi) else math.nan,
            "per_image_q25": float(np.percentile(pi, 25)) if len(pi) else math.nan,
            "per_image_q75": float(np.percentile(pi, 75)) if len(pi) else math.nan,
            "per_image_min": float(pi.min()) if len(pi) else math.nan, "per_image_max": float(pi.max()) if len(pi) else math.nan,
            "per_image_mean": self.per_image_mean, "per_image_mean_ci_low": self.per_image_mean_ci[0],
            "per_image_mean_ci_high": self.per_image_mean_ci[1], "per_image_median_ci_low": self.per_image_median_ci[0],
            "per_image_median_ci_high": self.per_image_median_ci[1], "per_image_undefined": self.per_image_undefined,
            "p_fewer_bits": self.p_fewer_bits, "n_boot_valid": self.n_boot_valid,
            "p_better_equal_rate": self.p_better_equal_rate, "basis": self.basis,
            **(s.row() if s is not None else {}),
            "warnings": " | ".join(self.warnings),
        }


def _points(points, bpp, val) -> list[tuple]:
    return sorted(((p, float(b), float(v)) for p, b, v in zip(points, bpp, val)), key=lambda t: t[1])


def compare(anchor: Curves, test: Curves, *, method: str = "pchip", n_boot: int = 1000, seed: int = 0,
            ci: float = 0.95, per_image: bool = True, min_overlap: float = MIN_OVERLAP, sensitivity: bool = True) -> Comparison:
    """BD of `test` against `anchor` on the mean curves of the images both have; with a bootstrap CI
    over those images (when at least one side has per-image values), per-image BD-rates and their
    mean and median, the paired bootstrap probability P(fewer bits), the sensitivity to the method
    and the rate points, and the matched-rate fallback when the curves share no quality range."""
    if anchor.metric != test.metric:
        raise ValueError(f"anchor is on {anchor.metric}, test on {test.metric}")
    info = metric_info(anchor.metric)
    hib = bool(info["higher_is_better"])
    notes: list[str] = list(dict.fromkeys(anchor.notes + test.notes))
    if anchor.images is not None and test.images is not None:
        common = [i for i in anchor.images if i in set(test.images)]
        left_out = sorted(set(anchor.images) ^ set(test.images)) + sorted(set(anchor.dropped) | set(test.dropped))
        if left_out:
            notes.append(f"{len(set(left_out))} image(s) not in both codecs at all points, left out: {', '.join(sorted(set(left_out))[:8])}"
                         + (" ..." if len(set(left_out)) > 8 else ""))
        a, t = anchor.subset(common), test.subset(common)
    else:
        a, t = anchor, test
        common = anchor.images if anchor.images is not None else test.images
        if anchor.published or test.published:
            da, dt = anchor.dataset, test.dataset
            if da and dt and da.lower() != dt.lower():
                notes.append(f"datasets differ: {anchor.codec} is on {da}, {test.codec} on {dt}")
    n_images = len(common) if common is not None else 0
    base = Comparison(anchor.codec, test.codec, anchor.metric, info.get("unit", ""), hib, method, math.nan, math.nan,
                      ci_level=ci, n_images=n_images, warnings=notes)
    if a.bpp.shape[0] == 0 or t.bpp.shape[0] == 0:
        notes.append("no image has every point for both codecs")
        base.basis = "none"
        return base
    ab, av = a.mean()
    tb, tv = t.mean()
    base.anchor_points, base.test_points = _points(a.points, ab, av), _points(t.points, tb, tv)
    res = bd(ab, av, tb, tv, method=method, higher_is_better=hib, min_overlap=min_overlap, anchor=a.codec, test=t.codec)
    base.bd_rate, base.bd_metric = res.bd_rate, res.bd_metric
    notes.extend(res.warnings)
    if not np.isfinite(base.bd_rate):
        base.basis = "matched rate" if np.isfinite(base.bd_metric) else "none"
        if base.basis == "matched rate":
            notes.append("no BD-rate (the curves share no quality range): compared at matched rate instead, "
                         f"{test.codec} - {anchor.codec} in {anchor.metric} averaged over the common log-rate range")

    if per_image and a.images is not None and t.images is not None:
        warned = []
        for i, img in enumerate(common):
            r = bd(a.bpp[i], a.value[i], t.bpp[i], t.value[i], method=method, higher_is_better=hib, min_overlap=min_overlap)
            base.per_image[img] = r.bd_rate
            base.per_image_metric[img] = r.bd_metric
            if any(not w.startswith("BD-metric") for w in r.warnings):
                warned.append(img)
        if warned:
            notes.append(f"per-image BD-rate: {len(warned)} of {len(common)} image curve pairs overlap < {min_overlap:.0%} "
                         f"or are not monotone: {', '.join(warned[:6])}" + (" ..." if len(warned) > 6 else ""))
        if base.per_image_undefined:
            notes.append(f"per-image BD-rate undefined for {base.per_image_undefined} of {len(common)} images "
                         "(no common quality range); the per-image mean and median leave them out")

    if n_boot > 0 and n_images > 1 and base.basis != "none":
        boot = _bootstrap(a, t, hib, method, n_boot, seed, min_overlap, (base.bd_rate, base.bd_metric))
        base.bd_metric_ci = _percentiles(boot.metrics, ci)
        base.n_boot, base.n_boot_failed = n_boot, int((~np.isfinite(boot.rates)).sum())
        okm = np.isfinite(boot.metrics)
        if okm.any():  # the matched-rate analogue of P(fewer bits): better at equal rate, in the metric's direction
            base.p_better_equal_rate = float(np.mean((boot.metrics[okm] if hib else -boot.metrics[okm]) > 0))
        if base.basis == "BD-rate":  # no mean-curve BD-rate: none of its resamples is reported either
            base.bd_rate_ci = _percentiles(boot.rates, ci)
            ok = np.isfinite(boot.rates)
            base.n_boot_valid = int(ok.sum())
            if base.n_boot_valid:
                base.p_fewer_bits = float(np.mean(boot.rates[ok] < 0))
                base.p_more_bits = float(np.mean(boot.rates[ok] > 0))
        if base.per_image and boot.idx is not None:
            pi = np.array([base.per_image[i] for i in common], dtype=float)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)  # a resample of only undefined images: NaN
                base.per_image_mean_ci = _percentiles(np.nanmean(pi[boot.idx], axis=1), ci)
                base.per_image_median_ci = _percentiles(np.nanmedian(pi[boot.idx], axis=1), ci)
        notes.extend(boot.notes)
        if base.n_boot_failed and base.basis == "BD-rate":
            notes.append(f"bootstrap: {base.n_boot_failed} of {n_boot} resamples gave no BD-rate (no overlap); "
                         "CI and P(fewer bits) over the rest")
    elif n_boot > 0 and n_images <= 1:
        notes.append("no bootstrap CI: fewer than 2 images with per-image values")

    if sensitivity:
        base.sensitivity = bd_sensitivity(a.points, ab, av, t.points, tb, tv, method=method, higher_is_better=hib,
                                          min_overlap=min_overlap)
        if base.basis == "matched rate":
            base.sensitivity.quantity = "bd_metric"
            base.sensitivity.ci_width = base.bd_metric_ci[1] - base.bd_metric_ci[0]
        else:
            base.sensitivity.ci_width = base.bd_rate_ci[1] - base.bd_rate_ci[0]
    return base


def _percentiles(x: np.ndarray, ci: float) -> tuple[float, float]:
    """The percentile interval of the finite values (NaN, NaN when there are none)."""
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    q = [(1 - ci) / 2 * 100, (1 + ci) / 2 * 100]
    return (float(np.percentile(x, q[0])), float(np.percentile(x, q[1]))) if len(x) else (math.nan, math.nan)


@dataclass
class Bootstrap:
    rates: np.ndarray  # BD-rate [%] per resample (NaN: undefined)
    metrics: np.ndarray  # BD-metric per resample
    idx: np.ndarray | None  # (n_boot, n_images) image indices of each resample
    notes: list[str]


def _resample_indices(n_images: int, n_boot: int, seed: int) -> np.ndarray:
    """The images of each resample (with replacement, seeded): the same for both codecs, so the test is paired."""
    return np.random.default_rng(seed).integers(0, n_images, size=(n_boot, n_images))


def _bootstrap(a: Curves, t: Curves, hib: bool, method: str, n_boot: int, seed: int, min_overlap: float,
               point: tuple[float, float]) -> Bootstrap:
    n = (a.bpp if a.images is not None else t.bpp).shape[0]
    idx = _resample_indices(n, n_boot, seed)

    def resampled(c: Curves):
        if c.images is None:  # a published mean: the same curve in every resample
            return np.broadcast_to(c.bpp, (n_boot, c.bpp.shape[1])), np.broadcast_to(c.value, (n_boot, c.value.shape[1]))
        return c.bpp[idx].mean(axis=1), c.value[idx].mean(axis=1)

    (ab, av), (tb, tv) = resampled(a), resampled(t)
    sign = 1.0 if hib else -1.0
    notes = []
    rates = metrics_ = None
    if method == "pchip":
        # check the vectorised path against the package on the unresampled curves first
        a0, t0 = a.mean(), t.mean()
        chk_r = _pchip_bd_batch(a0[0][None], sign * a0[1][None], t0[0][None], sign * t0[1][None], kind="rate")[0]
        chk_m = sign * _pchip_bd_batch(a0[0][None], sign * a0[1][None], t0[0][None], sign * t0[1][None], kind="metric")[0]

        def same(x, want):
            return (not np.isfinite(want) and not np.isfinite(x)) or bool(np.isclose(x, want, rtol=1e-9, atol=1e-9))

        if same(chk_r, point[0]) and same(chk_m, point[1]):
            rates = _pchip_bd_batch(ab, sign * av, tb, sign * tv, kind="rate")
            metrics_ = sign * _pchip_bd_batch(ab, sign * av, tb, sign * tv, kind="metric")
        else:
            notes.append(f"bootstrap: vectorised pchip disagreed with the package ({chk_r:.6g} vs {point[0]:.6g}); used the package")
    if rates is None:
        rates, metrics_ = np.empty(n_boot), np.empty(n_boot)
        for k in range(n_boot):
            r = bd(ab[k], av[k], tb[k], tv[k], method=method, higher_is_better=hib, min_overlap=min_overlap)
            rates[k], metrics_[k] = r.bd_rate, r.bd_metric
    return Bootstrap(np.asarray(rates, float), np.asarray(metrics_, float), idx, notes)


def paired_probabilities(df: pd.DataFrame, metric: str, codecs: Sequence[str] | None = None, *, method: str = "pchip",
                         n_boot: int = 1000, seed: int = 0, min_overlap: float = MIN_OVERLAP) -> pd.DataFrame:
    """P[a, b] = the bootstrap probability that codec a needs fewer bits than codec b at equal quality on
    `metric`: the fraction of the resamples of their common images (the same images for both) in which the
    BD-rate of a against b is negative.  NaN where the pair has no BD-rate (no common quality range)."""
    metric = bd_column(metric)
    ok = df[df["status"] == "ok"] if "status" in df else df
    names = [c for c in (codecs or sorted(ok["codec"].unique()))]
    curves = {}
    for c in names:
        try:
            curves[c] = curves_from_rows(ok, c, metric)
        except KeyError:
            continue
    names = [c for c in names if c in curves]
    out = pd.DataFrame(np.nan, index=names, columns=names)
    for i, ca in enumerate(names):
        for cb in names[i + 1:]:
            r = compare(curves[cb], curves[ca], method=method, n_boot=n_boot, seed=seed, per_image=False,
                        min_overlap=min_overlap, sensitivity=False)
            if r.basis != "BD-rate" or not r.n_boot_valid:
                continue
            out.loc[ca, cb] = r.p_fewer_bits  # a (the test) against b (the anchor): BD-rate < 0
            # BD-rate(b vs a) has the opposite sign of BD-rate(a vs b) on every resample (same curves, same range)
            out.loc[cb, ca] = r.p_more_bits
    return out


# ------------------------------------------------------------------------------- the BD matrix


def default_anchor(codecs: Iterable[str]) -> str:
    """The VVC intra codec (VTM, then vvenc), else HEVC intra, else the first codec by name."""
    codecs = list(codecs)
    for pat in ANCHOR_PREFERENCE:
        for c in codecs:
            if re.search(pat, c, flags=re.IGNORECASE):
                return c
    if not codecs:
        raise ValueError("no codecs")
    return sorted(codecs)[0]


def bd_matrix(df: pd.DataFrame, anchor: str | None = None, metrics: Sequence[str] | None = None, *,
              method: str = "pchip", n_boot: int = 1000, seed: int = 0, ci: float = 0.95, published: Sequence = (),
              codecs: Sequence[str] | None = None) -> tuple[pd.DataFrame, list[Comparison]]:
    """Every codec (and published curve) against `anchor` for every metric: one row per (codec, metric)."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    sweep_codecs = sorted(ok["codec"].unique()) if not ok.empty else []
    pubs = {p.name: p for p in published}
    if codecs is not None:
        sweep_codecs = [c for c in sweep_codecs if c in codecs]
    if anchor is None:
        anchor = default_anchor(sweep_codecs) if sweep_codecs else default_anchor(list(pubs))
    if anchor not in sweep_codecs and anchor not in pubs:
        raise BenchError(f"anchor {anchor!r} is neither a codec of the sweep ({', '.join(sweep_codecs)}) nor a published curve "
                       f"({', '.join(pubs) or 'none given'})")
    metrics = [bd_column(m) for m in (metrics or available_metrics(ok))]
    metrics = list(dict.fromkeys(metrics))
    results: list[Comparison] = []
    for metric in metrics:
        def get(name):
            return curves_from_published(pubs[name], metric) if name in pubs and name not in sweep_codecs else curves_from_rows(ok, name, metric)
        try:
            a = get(anchor)
        except KeyError as exc:
            results.append(Comparison(anchor, anchor, metric, metric_info(metric).get("unit", ""), True, method, math.nan, math.nan,
                                      warnings=[f"anchor: {exc}"]))
            continue
        for name in [c for c in sweep_codecs if c != anchor] + [p for p in pubs if p != anchor and p not in sweep_codecs]:
            try:
                t = get(name)
            except KeyError:
                continue  # e.g. a published file without this metric
            results.append(compare(a, t, method=method, n_boot=n_boot, seed=seed, ci=ci))
    table = pd.DataFrame([r.row() for r in results])
    return table, results


# ------------------------------------------------------------------------------------- printing


def fmt_pct(x: float, signed: bool = True) -> str:
    return "n/a" if not np.isfinite(x) else (f"{x:+.2f}" if signed else f"{x:.2f}")


def fmt_ci(lo: float, hi: float, digits: int = 2) -> str:
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return "n/a"
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}]"


def format_matrix(results: Sequence[Comparison]) -> str:
    """Codec x metric: BD-rate % [95 % CI], then the RD points each BD was computed from, then warnings."""
    if not results:
        return "no comparisons"
    anchor = results[0].anchor
    metrics = list(dict.fromkeys(r.metric for r in results))
    codecs = list(dict.fromkeys(r.test for r in results if r.test != anchor))
    by = {(r.test, r.metric): r for r in results}
    lines = [f"BD-rate [%] against {anchor} ({results[0].method}; negative = fewer bits at equal quality; "
             f"[{int(results[0].ci_level * 100)} % bootstrap CI over images])"]
    cells = [["codec"] + metrics]
    for c in codecs:
        row = [c]
        for m in metrics:
            r = by.get((c, m))
            if r is not None and r.basis == "matched rate":
                row.append(f"matched rate {r.bd_metric:+.3f} {r.unit}".rstrip() + f" {fmt_ci(*r.bd_metric_ci, digits=3)}".replace(" n/a", "") + " !")
                continue
            row.append("" if r is None else f"{fmt_pct(r.bd_rate)} {fmt_ci(*r.bd_rate_ci, digits=1)}".replace(" n/a", "") + (" !" if r and r.warnings else ""))
        cells.append(row)
    lines += align(cells)
    lines.append("")
    lines.append("BD-metric (test - anchor at equal rate, metric's unit; '(lower better)' marks lower-is-better metrics):")
    cells = [["codec"] + [m + ("" if by_metric_hib(results, m) else " (lower better)") for m in metrics]]
    for c in codecs:
        cells.append([c] + [("" if (c, m) not in by else f"{by[(c, m)].bd_metric:+.4f}" if np.isfinite(by[(c, m)].bd_metric) else "n/a") for m in metrics])
    lines += align(cells)
    lines.append("")
    lines.append("Aggregations and paired test (BD-rate %): mean curves = BD of the dataset-averaged curves; per-image mean /")
    lines.append("median = over the images' own BD-rates; P(fewer bits) = fraction of bootstrap resamples with BD-rate < 0;")
    lines.append("sensitivity: range over pchip/akima/cubic and over leave-one-point-out subsets, '*' = wider than the CI;")
    lines.append("matched rate = no common quality range: test - anchor at equal rate in the metric's unit instead, with")
    lines.append("P(better at equal rate) = fraction of resamples in which that difference favours the test.")
    cells = [["codec", "metric", "mean curves", "per-image mean", "per-image median", "P(fewer bits)", "methods", "leave-one-point-out"]]
    for r in results:
        if r.test == anchor:
            continue
        s = r.sensitivity
        rng = ["", ""]
        if s is not None:
            for k, which in enumerate(("methods", "loo")):
                lo, hi = s.range(which)
                rng[k] = "n/a" if not np.isfinite(lo) else f"[{lo:+.2f}, {hi:+.2f}]" + ("*" if s.wider_than_ci(which) else "")
        head = (fmt_pct(r.bd_rate) if r.basis != "matched rate" else f"matched rate {r.bd_metric:+.3f} {r.unit}".rstrip())
        und = f" ({r.per_image_undefined} of {len(r.per_image)} undefined)" if r.per_image_undefined else ""
        p = (f"{r.p_fewer_bits:.3f}" if np.isfinite(r.p_fewer_bits) else
             f"n/a; better at equal rate {r.p_better_equal_rate:.3f}" if np.isfinite(r.p_better_equal_rate) else "n/a")
        cells.append([r.test, r.metric, head, fmt_pct(r.per_image_mean) + und, fmt_pct(r.per_image_median), p, *rng])
    lines += align(cells)
    lines.append("")
    lines.append("RD points (mean over the images used; point: bpp / metric):")
    for m in metrics:
        rs = [r for r in results if r.metric == m]
        if not rs:
            continue
        lines.append(f"  {m}:")
        seen = set()
        for r in rs:
            for name, pts in ((r.anchor, r.anchor_points), (r.test, r.test_points)):
                if name in seen or not pts:
                    continue
                seen.add(name)
                lines.append(f"    {name:<24} " + "  ".join(f"{p}: {b:.4f}/{v:.3f}" for p, b, v in pts))
    warned = [r for r in results if r.warnings]
    if warned:
        lines.append("")
        lines.append("warnings (!):")
        for r in warned:
            for w in r.warnings:
                lines.append(f"  {r.test} vs {r.anchor} on {r.metric}: {w}")
    return "\n".join(lines)


def by_metric_hib(results, metric) -> bool:
    return next((r.higher_is_better for r in results if r.metric == metric), True)
