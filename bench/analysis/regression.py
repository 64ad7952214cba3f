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

A comparison that cannot be decided never passes.  NaN is never within a tolerance, so: a baseline
with an empty or non-finite bytes/bpp cell or an empty metric cell, a tolerance that is not a finite
number >= 0 (command line or meta.json), or a baseline that cannot be read is refused with one line
(exit 2); a sweep value that is NaN where the baseline has a number fails the row.  The one
non-finite value a baseline may hold is a metric's +inf (a lossless row), which only the same +inf
matches.  `--update` refuses to write a baseline the check would refuse.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import metrics as M
from bench.analysis.bd import compare, curves_from_rows, default_anchor
from bench.core.errors import BenchError
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


def _key_text(r: dict) -> str:
    return f"{r.get('codec')} {r.get('image')} point {r.get('point')}"


def value_problems(df: pd.DataFrame) -> list[str]:
    """Why rows of a baseline (or of a sweep about to become one) cannot be compared: a key cell, bytes or
    bpp that is missing, not finite or not positive; a checked metric that is missing (NaN); a key twice."""
    problems = []
    for r in df.to_dict("records"):
        for c in KEY:
            if pd.isna(r.get(c)) or str(r.get(c)) == "":
                problems.append(f"{_key_text(r)}: no {c}")
        b = pd.to_numeric(pd.Series([r.get("bytes")]), errors="coerce").iloc[0]
        if not (np.isfinite(b) and b > 0 and float(b).is_integer()):
            problems.append(f"{_key_text(r)}: bytes {r.get('bytes')}")
        bpp = pd.to_numeric(pd.Series([r.get("bpp")]), errors="coerce").iloc[0]
        if not (np.isfinite(bpp) and bpp > 0):
            problems.append(f"{_key_text(r)}: bpp {r.get('bpp')}")
        for mt in METRICS_CHECKED:
            v = pd.to_numeric(pd.Series([r.get(mt)]), errors="coerce").iloc[0]
            if pd.isna(v) or v == -math.inf:
                problems.append(f"{_key_text(r)}: {mt} {r.get(mt)}")
    dup = df[df.duplicated(KEY, keep=False)] if set(KEY) <= set(df.columns) else df.iloc[0:0]
    problems += [f"{_key_text(r)}: listed twice" for r in dup.drop_duplicates(KEY).to_dict("records")]
    return problems


def _refuse_values(problems: list[str], what: str, fix: str) -> None:
    if problems:
        more = f" and {len(problems) - 3} more" if len(problems) > 3 else ""
        raise BenchError(f"{what}: {len(problems)} value(s) that cannot be compared ({'; '.join(problems[:3])}{more}); {fix}")


def read_baseline(folder: Path) -> tuple[pd.DataFrame, dict]:
    """The baseline's rows and meta, checked: FileNotFoundError when there is none, one BenchError line
    when it cannot be read or holds a value no comparison can decide."""
    rows = folder / "rows.csv"
    if not rows.is_file():
        raise FileNotFoundError(f"no baseline at {rows} (write one with --update)")
    fix = "rewrite the baseline with --update"
    try:
        df = pd.read_csv(rows, dtype={"dataset": str, "image": str, "codec": str, "point": str, "codec_hash": str, "encoder": str})
    except (ValueError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        raise BenchError(f"baseline {rows} cannot be read as CSV ({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}); {fix}") from None
    missing = [c for c in COLUMNS if c not in df.columns]
    if missing:
        raise BenchError(f"baseline {rows} lacks the column(s) {', '.join(missing)}; {fix}")
    if df.empty:
        raise BenchError(f"baseline {rows} holds no rows; {fix}")
    df["point"] = df["point"].map(norm_point)
    _refuse_values(value_problems(df), f"baseline {rows}", fix)
    meta_path = folder / "meta.json"
    meta: Any = {}
    if meta_path.is_file():
        try:
            meta = json.loads(meta_path.read_text())
        except (ValueError, UnicodeDecodeError) as exc:
            raise BenchError(f"baseline {meta_path} is not valid JSON ({exc}); {fix}") from None
        if not isinstance(meta, dict):
            raise BenchError(f"baseline {meta_path} is not a JSON object; {fix}")
        if meta.get("anchor") is not None and not isinstance(meta["anchor"], str):
            raise BenchError(f"baseline {meta_path}: anchor {meta['anchor']!r} is not a codec name; {fix}")
        tol = meta.get("tolerances", {})
        if not isinstance(tol, dict) or not all(isinstance(tol.get(k, {}), dict) for k in ("bpp_rel", "metric_abs")):
            raise BenchError(f"baseline {meta_path}: tolerances must be {{\"bpp_rel\": {{codec: number}}, \"metric_abs\": "
                             f"{{metric: number}}, \"bd_points\": number}}, not {tol!r}; {fix}")
    df["bytes"] = df["bytes"].astype("int64")
    return df, meta


def write_baseline(folder: Path, current: pd.DataFrame, meta: dict) -> None:
    if current.empty:
        raise BenchError("the sweep has no ok rows: no baseline written (it would check nothing)")
    _refuse_values(value_problems(current), "the sweep's ok rows",
                   "a baseline holds only values a check can compare: leave those pictures (or metrics) out of the CI sweep")
    folder.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(folder / "rows.csv", current.to_csv(index=False, float_format="%.10g").encode())
    atomic_write_bytes(folder / "meta.json", (json.dumps(meta, indent=1, sort_keys=True) + "\n").encode())


def tolerance(value, what: str) -> float:
    """A tolerance as a finite number >= 0, or one BenchError line (NaN is never exceeded: it would pass anything)."""
    try:
        t = float(value)
    except (TypeError, ValueError):
        raise BenchError(f"{what}: {value!r} is not a number") from None
    if not math.isfinite(t) or t < 0:
        raise BenchError(f"{what}: {value!r} is not a finite number >= 0 (a NaN or infinite tolerance would pass any change)")
    return t


def _tolerances(items, committed: dict, default: float, what: str) -> dict:
    """Default, then the baseline's committed values, then the command line: ['0.01', 'jpeg=0'] ->
    {'*': 0.01, 'jpeg': 0.0} ('*' applies to every name not listed)."""
    out = {"*": default, **{k: tolerance(v, f"{what} {k} (meta.json)") for k, v in committed.items()}}
    for it in items or []:
        name, _, val = str(it).rpartition("=")
        try:
            float(val)
        except ValueError:
            raise BenchError(f"{what}: {it!r} is not [NAME=]NUMBER") from None
        out[name or "*"] = tolerance(val, f"{what} {it!r}")
    return out


# ------------------------------------------------------------------------------------ comparison


def _number(v) -> float:
    try:
        return float(v) if v is not None and not pd.isna(v) else math.nan
    except (TypeError, ValueError):
        return math.nan


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
            b0, b1 = _number(d["bytes_base"]), _number(d["bytes_now"])
            rel = (b1 - b0) / b0 if b0 else math.inf
            rec["bytes_rel"] = rel
            if not math.isfinite(rel) or abs(rel) > tol + 1e-15:
                status = "worse" if b1 > b0 else "changed"
                rec["notes"].append(f"bytes {'+' if rel > 0 else ''}{rel * 100:.3f} % (tolerance {tol * 100:g} %)")
            for mt in METRICS_CHECKED:
                v0, v1 = _number(d.get(f"{mt}_base")), _number(d.get(f"{mt}_now"))
                t = metric_tol.get(mt, metric_tol["*"])
                if v0 == v1:  # equal, including the same +inf of a lossless row
                    continue
                if math.isnan(v0) or math.isnan(v1):  # undecidable: never within a tolerance
                    rec["notes"].append(f"{mt} {v0:g} -> {v1:g} (cannot be compared)")
                    status = "changed" if status == "ok" else status
                    continue
                delta = v1 - v0
                if not math.isfinite(delta) or abs(delta) > t:
                    rec["notes"].append(f"{mt} {delta:+.4f} (tolerance {t:g})")
                    if status == "ok":
                        status = "worse" if delta < 0 else "changed"
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
