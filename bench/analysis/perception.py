"""The perception-distortion analysis of a sweep, in numbers: do perceptual metrics rank the codecs
as PSNR does?  `tables(df)` computes every table; the figures and the Markdown section are
`bench.report.perception`'s, the command `bench perception results/<sweep>` writes both.

Method (every number names its definition):
  - Rows: status ok, restricted to the images every codec has at all of its points, so all means
    cover the same pictures.  Curves are the mean over those images of per-image bpp and of the
    per-image metric (bench.results.tables.summarize's convention).  Direction and unit of each metric come
    from bench.metrics.METRICS.
  - Matched rates: K rates spaced evenly in log(bpp) over the rate range every codec covers; each
    codec's value there is the linear interpolation in log(bpp) of its curve (per-image curves for
    per-image numbers).
  - Pairwise comparison (A vs B, per metric):
      * equal-rate delta: mean over 64 log-spaced rates in the two curves' common rate range of
        (A - B) after interpolation, in the metric's unit; "A better" when the direction-adjusted
        delta is > 0.  The rate range is the same for every metric, so a flip cannot come from a
        different range;
      * BD-rate of A against B (bench.analysis.bd: bjontegaard package, pchip, equal quality range),
        when the curves overlap enough; negative = A needs fewer bits;
      * verdict: the BD-rate sign where it is defined, else the equal-rate delta sign (`basis` says
        which);
      * per image: the equal-rate delta sign on each image's own curves.
  - Rank flip: a codec pair whose verdict under the reference metric (PSNR-RGB) differs from its
    verdict under another metric; every one is listed, with how many images disagree too.
  - Rankings: codecs ordered by their mean interpolated value over the rate range all codecs cover.
  - At equal distortion: each metric interpolated linearly in PSNR over the PSNR range two codecs
    share; the mean A - B says which codec looks better at the same PSNR (the scatter in numbers).
  - Rank correlation between metrics (Spearman rho and Kendall tau-b), each metric oriented so that
    higher = better (lower-is-better metrics negated), so +1 = the two metrics order pictures alike:
      * per image, over its rows (every codec x point): includes the rate ordering, so values are high;
      * per image at matched rate, across codecs (the codec ordering with rate held fixed), averaged
        over rates; with few codecs each value is coarse (3 codecs: tau in {-1, -1/3, 1/3, 1}).
    Reported per image and as mean / min / max over images.
"""

from __future__ import annotations

import math
import warnings
from itertools import combinations
from typing import Sequence

import numpy as np
import pandas as pd

from bench import metrics as M
from bench.analysis import bd as bdmod

REFERENCE = M.REFERENCE  # PSNR-RGB
N_MATCHED = 5
N_GRID = 64


# ------------------------------------------------------------------------------------------ data


def info(metric: str) -> dict:
    return M.METRICS.get(metric, {"higher_is_better": True, "unit": "", "label": metric, "kind": "unknown"})


def sign(metric: str) -> float:
    """+1 for higher-is-better metrics, -1 for lower-is-better ones."""
    return 1.0 if info(metric).get("higher_is_better", True) else -1.0


def label(metric: str) -> str:
    i = info(metric)
    return i.get("label") or (metric + (f" [{i['unit']}]" if i.get("unit") else ""))


def available(df: pd.DataFrame, metrics: Sequence[str] | None = None, reference: str = REFERENCE) -> list[str]:
    """Compared metrics with values in the rows (the reference excluded)."""
    want = list(metrics) if metrics else M.compared_columns()  # structural and perceptual, dB forms
    return [m for m in want if m != reference and m in df and pd.to_numeric(df[m], errors="coerce").notna().any()]


def prepare(df: pd.DataFrame, metrics: Sequence[str]) -> pd.DataFrame:
    """Ok rows of the images that every codec has at all of its points, numeric metric columns."""
    ok = df[df["status"] == "ok"].copy() if "status" in df else df.copy()
    for c in ["bpp", *metrics]:
        ok[c] = pd.to_numeric(ok[c], errors="coerce")
    ok = ok[np.isfinite(ok["bpp"]) & (ok["bpp"] > 0)]
    points = ok.groupby("codec")["point"].nunique()
    full = ok.groupby(["codec", "image"])["point"].nunique().reset_index()
    full = full[full["point"] == full["codec"].map(points)]
    per_codec = full.groupby("codec")["image"].apply(set)
    common = set.intersection(*per_codec.tolist()) if len(per_codec) else set()
    return ok[ok["image"].isin(common)].reset_index(drop=True)


def mean_curves(ok: pd.DataFrame, metrics: Sequence[str]) -> dict[str, pd.DataFrame]:
    """codec -> its mean curve (bpp and metrics averaged over images per point), sorted by bpp."""
    out = {}
    for codec, g in ok.groupby("codec", sort=True):
        m = g.groupby("point")[["bpp", *metrics]].mean().sort_values("bpp").reset_index()
        out[codec] = m
    return out


def interp(bpp: np.ndarray, values: np.ndarray, rates: np.ndarray) -> np.ndarray:
    """Linear interpolation in log(bpp); NaN outside the curve's rate range or where values are NaN."""
    bpp, values = np.asarray(bpp, float), np.asarray(values, float)
    keep = np.isfinite(bpp) & np.isfinite(values) & (bpp > 0)
    bpp, values = bpp[keep], values[keep]
    if len(bpp) < 2:
        return np.full(len(rates), np.nan)
    o = np.argsort(bpp)
    x, y = np.log(bpp[o]), values[o]
    r = np.log(np.asarray(rates, float))
    out = np.interp(r, x, y)
    out[(r < x[0] - 1e-12) | (r > x[-1] + 1e-12)] = np.nan
    return out


def common_range(curves: Sequence[pd.DataFrame]) -> tuple[float, float] | None:
    lo = max(float(c["bpp"].min()) for c in curves)
    hi = min(float(c["bpp"].max()) for c in curves)
    return (lo, hi) if lo < hi else None


def rate_grid(rng: tuple[float, float], n: int) -> np.ndarray:
    return np.exp(np.linspace(math.log(rng[0]), math.log(rng[1]), n))


# ------------------------------------------------------------------------------- comparisons


def equal_rate_delta(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> tuple[float, tuple | None]:
    """Mean of (A - B) in the metric's unit over the common log-rate range (NaN without overlap)."""
    rng = common_range([a, b])
    if rng is None:
        return math.nan, None
    g = rate_grid(rng, N_GRID)
    d = interp(a["bpp"], a[metric], g) - interp(b["bpp"], b[metric], g)
    d = d[np.isfinite(d)]
    return (float(d.mean()) if len(d) else math.nan), rng


def _winner(a: str, b: str, better_score: float) -> str:
    if not np.isfinite(better_score) or better_score == 0:
        return "tie/undefined"
    return a if better_score > 0 else b


def _bd_rate(a: pd.DataFrame, b: pd.DataFrame, metric: str) -> tuple[float, str]:
    """BD-rate [%] of A against B through bench.analysis.bd (pchip), or NaN and why."""
    try:
        res = bdmod.bd(b["bpp"].to_numpy(), b[metric].to_numpy(), a["bpp"].to_numpy(), a[metric].to_numpy(),
                       method="pchip", higher_is_better=sign(metric) > 0, anchor="B", test="A")
    except Exception as exc:  # never let the optional stage break the analysis
        return math.nan, f"bench.bd failed: {type(exc).__name__}: {exc}"
    return float(res.bd_rate), "; ".join(res.warnings)


def pairwise(ok: pd.DataFrame, metrics: Sequence[str], reference: str = REFERENCE) -> pd.DataFrame:
    """One row per (codec A, codec B, metric): equal-rate delta, BD-rate, verdict, per-image agreement."""
    allm = [reference, *[m for m in metrics if m != reference]]
    curves = mean_curves(ok, allm)
    per_image = {(c, i): g.sort_values("bpp") for (c, i), g in ok.groupby(["codec", "image"])}
    images = sorted(ok["image"].unique())
    rows = []
    for a, b in combinations(sorted(curves), 2):
        for m in allm:
            delta, rng = equal_rate_delta(curves[a], curves[b], m)
            bd_rate, notes = _bd_rate(curves[a], curves[b], m)
            eq_winner = _winner(a, b, sign(m) * delta)
            bd_winner = _winner(a, b, -bd_rate)
            basis = "BD-rate (pchip)" if np.isfinite(bd_rate) else "equal-rate delta"
            img_w = {}
            for img in images:
                d, _ = equal_rate_delta(per_image[(a, img)], per_image[(b, img)], m)
                img_w[img] = _winner(a, b, sign(m) * d)
            rows.append({
                "codec_a": a, "codec_b": b, "metric": m, "kind": info(m).get("kind", ""),
                "higher_is_better": info(m).get("higher_is_better", True), "unit": info(m).get("unit", ""),
                "bpp_lo": rng[0] if rng else math.nan, "bpp_hi": rng[1] if rng else math.nan,
                "delta_equal_rate": delta, "winner_equal_rate": eq_winner,
                "bd_rate_pct": bd_rate, "winner_bd_rate": bd_winner if np.isfinite(bd_rate) else "undefined",
                "bd_notes": notes, "winner": bd_winner if np.isfinite(bd_rate) else eq_winner, "basis": basis,
                "image_winners": img_w,
            })
    return pd.DataFrame(rows)


def at_equal_reference(ok: pd.DataFrame, metrics: Sequence[str], reference: str = REFERENCE) -> pd.DataFrame:
    """The scatter plots in numbers: for each codec pair and metric, the mean of A - B over the common
    range of the reference metric (64 even steps of PSNR), each curve interpolated linearly in the
    reference; "A better" when the direction-adjusted delta is > 0.  Codecs that tie on PSNR but
    differ here are the perception-distortion mismatch at equal distortion."""
    curves = mean_curves(ok, [reference, *[m for m in metrics if m != reference]])
    rows = []
    for a, b in combinations(sorted(curves), 2):
        ca, cb = curves[a].sort_values(reference), curves[b].sort_values(reference)
        lo = max(ca[reference].min(), cb[reference].min())
        hi = min(ca[reference].max(), cb[reference].max())
        for m in metrics:
            if m == reference:
                continue
            delta = math.nan
            if lo < hi and np.all(np.diff(ca[reference]) > 0) and np.all(np.diff(cb[reference]) > 0):
                g = np.linspace(lo, hi, N_GRID)
                delta = float(np.mean(np.interp(g, ca[reference], ca[m]) - np.interp(g, cb[reference], cb[m])))
            rows.append({"codec_a": a, "codec_b": b, "metric": m, "reference": reference,
                         "reference_lo": lo, "reference_hi": hi, "delta_at_equal_reference": delta,
                         "winner_at_equal_reference": _winner(a, b, sign(m) * delta)})
    return pd.DataFrame(rows, columns=["codec_a", "codec_b", "metric", "reference", "reference_lo", "reference_hi",
                                       "delta_at_equal_reference", "winner_at_equal_reference"])


def rank_flips(pairs: pd.DataFrame, reference: str = REFERENCE) -> pd.DataFrame:
    """Every codec pair whose winner under `reference` differs from its winner under another metric."""
    cols = ["codec_a", "codec_b", "reference", "reference_winner", "reference_basis", "reference_delta", "metric",
            "kind", "metric_winner", "metric_basis", "metric_delta", "metric_bd_rate_pct", "images_disagreeing",
            "n_images"]
    if pairs.empty:
        return pd.DataFrame(columns=cols)
    out = []
    ref = pairs[pairs["metric"] == reference].set_index(["codec_a", "codec_b"])
    for r in pairs[pairs["metric"] != reference].itertuples():
        if (r.codec_a, r.codec_b) not in ref.index:
            continue
        p = ref.loc[(r.codec_a, r.codec_b)]
        undefined = {"tie/undefined", "undefined"}
        if p["winner"] in undefined or r.winner in undefined or p["winner"] == r.winner:
            continue
        pw, mw = p["image_winners"], r.image_winners
        disagree = sum(1 for i in pw if pw[i] != mw.get(i) and pw[i] not in undefined and mw.get(i) not in undefined)
        out.append({"codec_a": r.codec_a, "codec_b": r.codec_b, "reference": reference,
                    "reference_winner": p["winner"], "reference_basis": p["basis"], "reference_delta": p["delta_equal_rate"],
                    "metric": r.metric, "kind": r.kind, "metric_winner": r.winner, "metric_basis": r.basis,
                    "metric_delta": r.delta_equal_rate, "metric_bd_rate_pct": r.bd_rate_pct,
                    "images_disagreeing": disagree, "n_images": len(pw)})
    return pd.DataFrame(out, columns=cols)


def rankings(ok: pd.DataFrame, metrics: Sequence[str], reference: str = REFERENCE) -> pd.DataFrame:
    """Codecs ranked per metric by the mean interpolated value over the rate range all codecs cover."""
    allm = [reference, *[m for m in metrics if m != reference]]
    curves = mean_curves(ok, allm)
    cols = ["metric", "codec", "mean_at_common_rates", "rank", "reference_rank", "bpp_lo", "bpp_hi"]
    if len(curves) < 2:
        return pd.DataFrame(columns=cols)
    rng = common_range(list(curves.values()))
    if rng is None:
        return pd.DataFrame(columns=cols)
    g = rate_grid(rng, N_GRID)
    rows = []
    for m in allm:
        vals = {c: float(np.nanmean(interp(cv["bpp"], cv[m], g))) for c, cv in curves.items()}
        order = sorted(vals, key=lambda c: -sign(m) * vals[c])
        for rank, c in enumerate(order, 1):
            rows.append({"metric": m, "codec": c, "mean_at_common_rates": vals[c], "rank": rank, "bpp_lo": rng[0], "bpp_hi": rng[1]})
    out = pd.DataFrame(rows)
    ref_rank = out[out["metric"] == reference].set_index("codec")["rank"]
    out["reference_rank"] = out["codec"].map(ref_rank)
    return out[cols]


def _corr(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    from scipy import stats

    keep = np.isfinite(x) & np.isfinite(y)
    x, y = x[keep], y[keep]
    if len(x) < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return float(stats.spearmanr(x, y).statistic), float(stats.kendalltau(x, y).statistic)


def correlations_per_image(ok: pd.DataFrame, metrics: Sequence[str], reference: str = REFERENCE) -> pd.DataFrame:
    """Spearman and Kendall between every pair of metrics, per image, both scopes (see module doc)."""
    allm = [reference, *[m for m in metrics if m != reference]]
    rows = []
    codecs = sorted(ok["codec"].unique())
    for img, g in ok.groupby("image", sort=True):
        # scope 1: every row of the image
        for a, b in combinations(allm, 2):
            rho, tau = _corr(sign(a) * g[a].to_numpy(float), sign(b) * g[b].to_numpy(float))
            rows.append({"image": img, "scope": "rows of the image (codecs x points)", "metric_a": a, "metric_b": b,
                         "spearman": rho, "kendall": tau, "n": len(g)})
        # scope 2: codecs at matched rates
        curves = {c: gc.sort_values("bpp") for c, gc in g.groupby("codec")}
        if len(curves) < 3:
            continue
        rng = common_range(list(curves.values()))
        if rng is None:
            continue
        rates = rate_grid(rng, N_MATCHED)
        at = {m: np.array([interp(curves[c]["bpp"], curves[c][m], rates) for c in codecs if c in curves]) for m in allm}
        for a, b in combinations(allm, 2):
            vals = [_corr(sign(a) * at[a][:, k], sign(b) * at[b][:, k]) for k in range(len(rates))]
            rho = np.nanmean([v[0] for v in vals]) if any(np.isfinite(v[0]) for v in vals) else math.nan
            tau = np.nanmean([v[1] for v in vals]) if any(np.isfinite(v[1]) for v in vals) else math.nan
            rows.append({"image": img, "scope": f"codecs at {len(rates)} matched rates", "metric_a": a, "metric_b": b,
                         "spearman": float(rho), "kendall": float(tau), "n": len(curves)})
    return pd.DataFrame(rows, columns=["image", "scope", "metric_a", "metric_b", "spearman", "kendall", "n"])


def correlations(ok: pd.DataFrame, metrics: Sequence[str], reference: str = REFERENCE) -> pd.DataFrame:
    """Per-image correlations summarised over images: mean, min, max of Spearman and Kendall."""
    per = correlations_per_image(ok, metrics, reference)
    if per.empty:
        return pd.DataFrame(columns=["scope", "metric_a", "metric_b", "n_images", "spearman_mean", "spearman_min",
                                     "spearman_max", "kendall_mean", "kendall_min", "kendall_max"])
    g = per.groupby(["scope", "metric_a", "metric_b"], sort=False)
    out = g.agg(n_images=("image", "nunique"), spearman_mean=("spearman", "mean"), spearman_min=("spearman", "min"),
                spearman_max=("spearman", "max"), kendall_mean=("kendall", "mean"), kendall_min=("kendall", "min"),
                kendall_max=("kendall", "max")).reset_index()
    return out


def tables(df: pd.DataFrame, metrics: Sequence[str] | None = None, reference: str = REFERENCE) -> dict:
    """Every table of the analysis: {"metrics", "ok", "pairwise", "flips", "rankings", "equal_reference",
    "correlations_per_image", "correlations"} (DataFrames, and the compared metric names)."""
    ms = available(df, metrics, reference)
    ok = prepare(df, [reference, *ms])
    res = {"metrics": ms, "ok": ok}
    res["pairwise"] = pairwise(ok, ms, reference)
    res["flips"] = rank_flips(res["pairwise"], reference)
    res["rankings"] = rankings(ok, ms, reference)
    res["equal_reference"] = at_equal_reference(ok, ms, reference)
    res["correlations_per_image"] = correlations_per_image(ok, ms, reference)
    res["correlations"] = correlations(ok, ms, reference)
    return res
