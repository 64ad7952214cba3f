"""CI regression check: compare a sweep with a committed baseline; exit 1 on a regression.

    bench check results/<sweep> --baseline results/baselines/<name>
    bench check results/<sweep> --baseline results/baselines/<name> --update    # rewrite on purpose

    options: --bpp-tol [CODEC=]REL ...    relative bytes tolerance (default 0: exact bytes, for the
                                          deterministic CPU codecs; give learned/GPU codecs their own)
             --metric-tol [METRIC=]ABS ...  absolute tolerance on psnr_rgb / ms_ssim_rgb_db (default 0.001 dB)
             --bd-tol POINTS                BD-rate drift tolerance in percentage points (default 0.1)
             --anchor CODEC                 BD anchor (default: the baseline's, else the VVC/HEVC codec)
             --all                          print every row, not only the differences

The baseline is a folder with two small text files, meant to be committed (no bitstreams):
  rows.csv   one row per (dataset, image, codec, point): bytes, bpp, psnr_rgb, ms_ssim_rgb_db,
             codec_hash, encoder
  meta.json  when and from what it was written, the BD anchor, and optional committed tolerances
             {"tolerances": {"bpp_rel": {"codec": 0.005}, "metric_abs": {"psnr_rgb": 0.01}, "bd_points": 0.1}}
             (command-line options override them).

A row fails when its bytes differ beyond the codec's tolerance (either way: a smaller file is a
change to accept with --update, a larger one a regression), a metric differs beyond its tolerance,
a baseline row is missing (or failed) in the sweep, or the sweep has rows the baseline lacks.  A
changed codec_hash (encoder version or parameters) is reported; it fails only through the numbers.
The BD-rate (pchip, no bootstrap) of every codec against the anchor, on psnr_rgb and ms_ssim_rgb_db,
is recomputed from the baseline rows and from the sweep; a drift beyond --bd-tol fails.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd

from bench import metrics as M
from bench.analysis.bd import compare, curves_from_rows, default_anchor
from bench.core.files import atomic_write_bytes
from bench.core.text import align

KEY = ["dataset", "image", "codec", "point"]
COLUMNS = KEY + ["bytes", "bpp", "psnr_rgb", "ms_ssim_rgb_db", "codec_hash", "encoder"]
METRICS_CHECKED = M.PRIMARY  # psnr_rgb, ms_ssim_rgb_db
DEFAULT_METRIC_TOL = 1e-3  # dB: float noise of the metric code across machines, far below any codec change
DEFAULT_BD_TOL = 0.1  # percentage points


def norm_point(p) -> str:
    """One spelling per rate point whatever pandas made of it (22, 22.0, '22' -> '22'; 0.5 -> '0.5')."""
    try:
        f = float(p)
    except (TypeError, ValueError):
        return str(p)
    if math.isfinite(f) and f.is_integer():
        return str(int(f))
    return repr(f)


def baseline_frame(df: pd.DataFrame) -> pd.DataFrame:
    """The committed columns of a sweep's ok rows, one per key, sorted."""
    ok = df[df["status"] == "ok"].copy()
    for c in COLUMNS:
        if c not in ok:
            ok[c] = np.nan
    ok = ok[COLUMNS].copy()
    ok["point"] = ok["point"].map(norm_point)
    ok["bytes"] = ok["bytes"].astype("int64")
    ok["encoder"] = ok["encoder"].astype(str).str.split(" Copyright").str[0]
    return ok.sort_values(KEY, kind="stable").drop_duplicates(KEY, keep="last").reset_index(drop=True)


def read_baseline(folder: Path) -> tuple[pd.DataFrame, dict]:
    rows = folder / "rows.csv"
    if not rows.is_file():
        raise FileNotFoundError(f"no baseline at {rows} (write one with --update)")
    df = pd.read_csv(rows, dtype={"dataset": str, "image": str, "codec": str, "point": str, "codec_hash": str, "encoder": str})
    df["point"] = df["point"].map(norm_point)
    meta_path = folder / "meta.json"
    meta = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    return df, meta


def write_baseline(folder: Path, current: pd.DataFrame, meta: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "rows.csv", current.to_csv(index=False, float_format="%.10g").encode())
    atomic_write_bytes(folder / "meta.json", (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())


def _tolerances(items, committed: dict, default: float, what: str) -> dict:
    """Default, then the baseline's committed values, then the command line: ['0.01', 'jpeg=0'] ->
    {'*': 0.01, 'jpeg': 0.0} ('*' applies to every name not listed)."""
    out = {"*": default, **{k: float(v) for k, v in committed.items()}}
    for it in items or []:
        name, _, val = it.rpartition("=")
        try:
            out[name or "*"] = float(val)
        except ValueError:
            raise ValueError(f"{what}: {it!r} is not [NAME=]NUMBER") from None
    return out


# ------------------------------------------------------------------------------------ comparison


def compare_rows(base: pd.DataFrame, cur: pd.DataFrame, bpp_tol: dict, metric_tol: dict) -> pd.DataFrame:
    """One line per key in either table: status ok / worse / better / changed / missing / new."""
    m = base.merge(cur, on=KEY, how="outer", suffixes=("_base", "_now"), indicator=True)
    out = []
    for d in m.to_dict("records"):
        tol = bpp_tol.get(d["codec"], bpp_tol["*"])
        rec = {k: d[k] for k in KEY}
        rec.update({"bytes_base": d["bytes_base"], "bytes_now": d["bytes_now"], "notes": []})
        for mt in METRICS_CHECKED:
            rec[f"{mt}_base"], rec[f"{mt}_now"] = d.get(f"{mt}_base"), d.get(f"{mt}_now")
        if d["_merge"] == "left_only":
            rec["status"] = "missing"
            rec["notes"].append("in the baseline, not (ok) in the sweep")
        elif d["_merge"] == "right_only":
            rec["status"] = "new"
            rec["notes"].append("not in the baseline")
        else:
            status = "ok"
            b0, b1 = float(d["bytes_base"]), float(d["bytes_now"])
            rel = (b1 - b0) / b0 if b0 else math.inf
            rec["bytes_rel"] = rel
            if abs(rel) > tol + 1e-15:
                status = "worse" if b1 > b0 else "changed"
                rec["notes"].append(f"bytes {'+' if rel > 0 else ''}{rel * 100:.3f} % (tolerance {tol * 100:g} %)")
            for mt in METRICS_CHECKED:
                v0, v1 = d.get(f"{mt}_base"), d.get(f"{mt}_now")
                if v0 is None or v1 is None or (pd.isna(v0) and pd.isna(v1)):
                    continue
                t = metric_tol.get(mt, metric_tol["*"])
                if pd.isna(v0) != pd.isna(v1) or abs(float(v1) - float(v0)) > t:
                    delta = float(v1) - float(v0) if not (pd.isna(v0) or pd.isna(v1)) else math.nan
                    rec["notes"].append(f"{mt} {delta:+.4f} (tolerance {t:g})")
                    if status == "ok":
                        status = "worse" if (np.isfinite(delta) and delta < 0) else "changed"
            if str(d.get("codec_hash_base")) != str(d.get("codec_hash_now")):
                rec["notes"].append(f"codec_hash {d.get('codec_hash_base')} -> {d.get('codec_hash_now')}"
                                    + (f" (encoder now: {d.get('encoder_now')})" if d.get("encoder_base") != d.get("encoder_now") else ""))
            rec["status"] = status
        rec["notes"] = "; ".join(rec["notes"])
        out.append(rec)
    return pd.DataFrame(out).sort_values(["codec", "image", "point"], kind="stable").reset_index(drop=True)


def bd_drift(base: pd.DataFrame, cur: pd.DataFrame, anchor: str | None, tol: float) -> tuple[pd.DataFrame, str | None]:
    """BD-rate of every codec against the anchor, from the baseline rows and from the sweep's."""
    codecs = sorted(set(base["codec"]) & set(cur["codec"]))
    if len(codecs) < 2:
        return pd.DataFrame(), anchor
    anchor = anchor if anchor in codecs else default_anchor(codecs)
    out = []
    for metric in METRICS_CHECKED:
        for codec in codecs:
            if codec == anchor:
                continue
            vals, notes = [], []
            for frame in (base, cur):
                f = frame.assign(status="ok")
                try:
                    r = compare(curves_from_rows(f, anchor, metric), curves_from_rows(f, codec, metric), n_boot=0, per_image=False)
                    vals.append(r.bd_rate)
                    notes += [w for w in r.warnings if w.startswith("BD-rate")]
                except KeyError:
                    vals.append(math.nan)
            drift = vals[1] - vals[0]
            bad = (np.isfinite(vals[0]) != np.isfinite(vals[1])) or (np.isfinite(drift) and abs(drift) > tol)
            out.append({"codec": codec, "metric": metric, "bd_rate_base": vals[0], "bd_rate_now": vals[1], "drift": drift,
                        "status": ("worse" if np.isfinite(drift) and drift > 0 else "changed") if bad else "ok",
                        "notes": "; ".join(dict.fromkeys(notes))})
    return pd.DataFrame(out), anchor


# -------------------------------------------------------------------------------------- printing


def _fmt(v, spec: str) -> str:
    try:
        if v is None or pd.isna(v):
            return "-"
        return format(float(v), spec)
    except (TypeError, ValueError):
        return str(v)


def format_rows(diff: pd.DataFrame, show_all: bool) -> str:
    rows = diff if show_all else diff[diff["status"] != "ok"]
    if rows.empty:
        return f"rows: all {len(diff)} within tolerance"
    cells = [["status", "codec", "image", "point", "bytes base -> now", "psnr_rgb base -> now", "ms_ssim_rgb_db base -> now", "notes"]]
    for d in rows.to_dict("records"):
        rel = d.get("bytes_rel")
        cells.append([d["status"].upper() if d["status"] != "ok" else "ok", d["codec"], d["image"], d["point"],
                      f"{_fmt(d['bytes_base'], '.0f')} -> {_fmt(d['bytes_now'], '.0f')}" + (f" ({rel * 100:+.2f} %)" if rel is not None and pd.notna(rel) and rel else ""),
                      f"{_fmt(d['psnr_rgb_base'], '.4f')} -> {_fmt(d['psnr_rgb_now'], '.4f')}",
                      f"{_fmt(d['ms_ssim_rgb_db_base'], '.4f')} -> {_fmt(d['ms_ssim_rgb_db_now'], '.4f')}", d["notes"]])
    head = f"rows: {int((diff['status'] != 'ok').sum())} of {len(diff)} differ" + ("" if show_all else " (only those shown; --all for every row)")
    return head + "\n" + "\n".join(align(cells))


def format_bd(bd: pd.DataFrame, anchor: str | None, tol: float) -> str:
    if bd.empty:
        return "BD-rate drift: fewer than 2 codecs in both, not checked"
    cells = [["status", "codec", "metric", "BD-rate base %", "now %", "drift (points)", "notes"]]
    for r in bd.itertuples(index=False):
        cells.append([r.status.upper() if r.status != "ok" else "ok", r.codec, r.metric, _fmt(r.bd_rate_base, "+.3f"),
                      _fmt(r.bd_rate_now, "+.3f"), _fmt(0.0 if pd.notna(r.drift) and abs(r.drift) < 5e-4 else r.drift, "+.3f"), r.notes])
    return f"BD-rate drift against {anchor} (pchip; tolerance {tol:g} points):\n" + "\n".join(align(cells))
