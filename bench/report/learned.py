"""The report's learned-codec section: complexity (both counters), timing with its protocol, and
bitstream portability, from the columns the learned adapter writes (`bench.codecs.learned`).

    markdown_section(df) -> str    ("" when the sweep has no learned-codec rows)
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from bench.codecs.learned.complexity import COUNTERS, disagreements
from bench.core.text import fmt_point, md_table

PART_LABELS = {
    "g_a": "g_a analysis", "h_a": "h_a hyper-analysis", "h_s": "h_s hyper-synthesis", "g_s": "g_s synthesis",
    "context_prediction": "context model", "entropy_parameters": "entropy parameters",
    "entropy_bottleneck": "entropy bottleneck", "gaussian_conditional": "gaussian conditional", "other": "other ops",
}
ORDER = list(PART_LABELS)


def _label(part: str) -> str:
    return PART_LABELS.get(part, part)


def _parts(cols, prefix: str) -> list[str]:
    found = {c[len(prefix):] for c in cols if c.startswith(prefix)}
    return sorted(found, key=lambda p: (ORDER.index(p) if p in ORDER else len(ORDER), p))


def _fmt_points(points) -> str:
    return ", ".join(fmt_point(p) for p in sorted(set(points), key=lambda v: (float(v) if _num(v) else float("inf"), str(v))))


def _num(v) -> bool:
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def _sizes(g: pd.DataFrame) -> str:
    pairs = sorted({(int(r.width), int(r.height), int(r.coded_width), int(r.coded_height)) for r in g.itertuples()})
    return "; ".join(f"{w}x{h}" + (f" (coded {cw}x{ch})" if (cw, ch) != (w, h) else "") for w, h, cw, ch in pairs)


def _learned(df: pd.DataFrame) -> pd.DataFrame:
    if "decode_devices" not in df and "params" not in df:
        return df.iloc[0:0]
    ok = df[df["status"] == "ok"]
    mask = pd.Series(False, index=ok.index)
    for col in ("decode_devices", "params"):
        if col in ok:
            mask |= ok[col].notna()
    return ok[mask]


# ------------------------------------------------------------------------------------ complexity


def _parameters_table(lr: pd.DataFrame) -> str:
    if "params" not in lr or lr["params"].isna().all():
        return ""
    parts = _parts(lr.columns, "params_")
    rows, seen = [], set()
    for codec, g in lr[lr["params"].notna()].groupby("codec", sort=True):
        cols = ["params"] + [f"params_{p}" for p in parts]
        for values, gg in g.groupby([g[c].fillna(-1) for c in cols], sort=False):
            key = (codec, values)
            if key in seen:
                continue
            seen.add(key)
            vals = dict(zip(cols, values))
            rows.append([f"`{codec}`", _fmt_points(gg["point"]), f"{vals['params'] / 1e6:.3f}"]
                        + [("" if vals[f"params_{p}"] < 0 else f"{vals[f'params_{p}'] / 1e6:.4f}") for p in parts])
    return ("Parameters [M], total and per part (top-level submodules, and parameters the model holds itself):\n\n"
            + md_table(["codec", "points", "total"] + [_label(p) for p in parts], rows) + "\n")


def _macs_table(lr: pd.DataFrame) -> tuple[str, list[str]]:
    """The kMAC/px table (both counters) and the list of counter disagreements above 1 %."""
    sides = [(s, n) for s, n in (("enc", "encoder (compress)"), ("dec", "decoder (decompress)"))
             if f"kmac_{s}_torch" in lr and lr[f"kmac_{s}_torch"].notna().any()]
    parts: list[str] = []
    for side, _ in sides:
        for p in _parts([c for c in lr.columns if "_fvcore" not in c], f"kmac_{side}_torch_"):
            if p not in parts:
                parts.append(p)
    parts.sort(key=lambda p: (ORDER.index(p) if p in ORDER else len(ORDER), p))
    rows, flags = [], []
    for side, side_name in sides:
        cols = [c for c in [f"kmac_{side}_{k}" for k in COUNTERS] + [f"kmac_{side}_{k}_{p}" for k in COUNTERS for p in parts]
                if c in lr]
        g_all = lr[lr[f"kmac_{side}_torch"].notna()].copy()
        g_all["_key"] = [tuple(round(float(v), 6) if pd.notna(v) else None for v in r) for r in g_all[cols].itertuples(index=False)]
        for (codec, _), g in g_all.groupby(["codec", "_key"], sort=True):
            r = g.iloc[0]
            cells = []
            for p in parts:
                a, b = r.get(f"kmac_{side}_torch_{p}"), r.get(f"kmac_{side}_fvcore_{p}")
                if _missing(a) and _missing(b):
                    cells.append("")
                elif _differs(a, b):
                    cells.append(f"{_f(a)} / {_f(b)} !")
                else:
                    cells.append(_f(a))
            a, b = r[f"kmac_{side}_torch"], r.get(f"kmac_{side}_fvcore")
            rows.append([f"`{codec}`", _fmt_points(g["point"]), _sizes(g), side_name, f"{_f(a)} / {_f(b)}"] + cells
                        + ["**no**" if _differs(a, b) or any(c.endswith("!") for c in cells) else "yes"])
            ops = r.get(f"kmac_ops_{side}")
            if isinstance(ops, str) and ops:
                for part, x, y, fams in disagreements(ops):
                    flags.append(f"- `{codec}` {side_name}, {_label(part)}: torch {x:.3f} vs fvcore {y:.3f} kMAC/px "
                                 f"({_rel(x, y):+.1%}); op types that differ: {', '.join(fams) or 'none listed'}")
            note = r.get(f"kmac_notes_{side}")
            if isinstance(note, str) and note:
                flags.append(f"- `{codec}` {side_name}: {note}")
    if not rows:
        return "", flags
    header = (["codec", "points", "picture (coded)", "side", "total torch / fvcore"] + [_label(p) for p in parts]
              + ["counters agree (1 %)"])
    return md_table(header, rows) + "\n", flags


def _missing(v) -> bool:
    return v is None or pd.isna(v)


def _f(v) -> str:
    return "n/a" if v is None or pd.isna(v) else f"{float(v):.3f}"


def _rel(a, b) -> float:
    a, b = float(a), float(b)
    return 0.0 if a == b else (b - a) / max(abs(a), abs(b))


def _differs(a, b, tol: float = 0.01) -> bool:
    if _missing(a) or _missing(b):
        return not (_missing(a) and _missing(b))
    return abs(_rel(a, b)) > tol


# ---------------------------------------------------------------------------------------- timing


def _spread(s: pd.Series, digits: int = 3) -> str:
    s = pd.to_numeric(s, errors="coerce").dropna()
    if s.empty:
        return ""
    q1, med, q3 = np.percentile(s, [25, 50, 75])
    return f"{med:.{digits}f} ({q1:.{digits}f}-{q3:.{digits}f})"


def _med(s) -> str:
    s = pd.to_numeric(s, errors="coerce").dropna()
    return f"{s.median():.3f}" if len(s) else ""


def _timing_table(lr: pd.DataFrame) -> str:
    # the encoder's device is the decode column; other devices (a GPU encoder's CPU decode) get their own
    firsts = {str(v).split(",")[0] for v in lr.get("decode_devices", pd.Series(dtype=str)).dropna()}
    other = sorted({c[len("decode_s_"):] for c in lr.columns if c.startswith("decode_s_")} - firsts)
    rows = []
    for (codec, point), g in lr.groupby(["codec", "point"], sort=True):
        dev = ", ".join(sorted(g["device"].dropna().astype(str).unique())) if "device" in g else ""
        thr = ", ".join(sorted(g["threads"].dropna().astype(int).astype(str).unique())) if "threads" in g else ""
        warm = ", ".join(sorted(g["timing_warmup"].dropna().astype(int).astype(str).unique())) if "timing_warmup" in g else ""
        row = [f"`{codec}`", _fmt_points([point]), len(g), dev, thr, warm,
               _spread(g["encode_s"]), _med(g.get("encode_network_s", pd.Series(dtype=float))),
               _med(g.get("encode_entropy_s", pd.Series(dtype=float))), _spread(g["decode_s"]),
               _med(g.get("decode_network_s", pd.Series(dtype=float))), _med(g.get("decode_entropy_s", pd.Series(dtype=float)))]
        row += [_spread(g[f"decode_s_{d}"]) if f"decode_s_{d}" in g else "" for d in other]
        rows.append(row)
    return md_table(["codec", "point", "images", "encoder device", "threads", "warm-up runs", "encode s median (IQR)",
                     "of which network", "entropy coding", "decode s median (IQR)", "of which network", "entropy coding"]
                    + [f"decode on {d} s median (IQR)" for d in other], rows) + "\n"


# ----------------------------------------------------------------------------------- portability


def _portability(lr: pd.DataFrame) -> tuple[str, list[str]]:
    devs = sorted({c[len("decode_check_"):] for c in lr.columns
                   if c.startswith("decode_check_") and not c.startswith("decode_check_by_")})
    rows, bad = [], []
    for codec, g in lr.groupby("codec", sort=True):
        cells = []
        for d in devs:
            col = f"decode_check_{d}"
            if col not in g or g[col].isna().all():
                cells.append("")
                continue
            checked = g[g[col].notna()]
            ok = int(checked[col].astype(bool).sum())
            mx = pd.to_numeric(checked.get(f"decode_max_diff_{d}", pd.Series(dtype=float)), errors="coerce").max()
            by = sorted(checked[f"decode_check_by_{d}"].dropna().astype(str).unique()) if f"decode_check_by_{d}" in checked else []
            cells.append(f"{ok}/{len(checked)} identical" + (f", max diff {int(mx)}" if pd.notna(mx) and mx > 0 else "")
                         + (f" (by {'/'.join(by)})" if by else ""))
            if ok < len(checked):
                err = checked.get(f"decode_error_{d}")
                why = f"; {err.dropna().iloc[0]}" if err is not None and err.notna().any() else ""
                bad.append(f"- `{codec}`: {len(checked) - ok} of {len(checked)} bitstreams decode differently on {d} "
                           f"(max difference {int(mx) if pd.notna(mx) else 'n/a'} levels{why})")
        rows.append([f"`{codec}`", len(g)] + cells)
    table = md_table(["codec", "bitstreams"] + [f"decoded on {d} (fresh process)" for d in devs], rows) + "\n"
    return table, bad


# ------------------------------------------------------------------------------------------ page


def markdown_section(df: pd.DataFrame) -> str:
    lr = _learned(df)
    if lr.empty:
        return ""
    out = ["## Learned codecs: complexity, timing, portability\n"]
    labels = []
    if "codec_label" in lr:
        for c, lab in lr.groupby("codec")["codec_label"].first().items():
            if isinstance(lab, str) and lab != c:
                labels.append(lab.replace(f"{c}: ", f"`{c}`: ", 1) if lab.startswith(f"{c}: ") else f"`{c}`: {lab}")
    if labels:
        out.append("Codecs: " + "; ".join(labels) + ".\n")
    counters = lr["kmac_counters"].dropna().iloc[0] if "kmac_counters" in lr and lr["kmac_counters"].notna().any() else ""
    out.append("### Complexity\n")
    out.append("kMAC per pixel of the original picture, counted on the real `compress()` (encoder side) and `decompress()` "
               "(decoder side) at the coded (padded) size, per part (the model's top-level submodules; ops in the body of "
               "compress/decompress go to the part whose parameters they use, the rest to 'other ops'). Counted twice: "
               + (counters or "torch.utils.flop_counter and fvcore") + ". A part where the counters differ by more than "
               "1 % shows both values and `!`; the list below the table names the op types that differ. Entropy coding "
               "(rANS) is not counted: it has no multiply-accumulates.\n")
    if any(c.startswith(("kmac_enc_torch_context_prediction", "kmac_dec_torch_context_prediction")) for c in lr.columns):
        out.append("Autoregressive context models (mbt2018, cheng2020) are counted as the decoder runs them: a 5x5 "
                   "convolution with the masked kernel (the dense kernel is multiplied, masked zeros included) and the "
                   "1x1 entropy-parameter network on one latent position at a time, for every latent position (H/16 x W/16), "
                   "serially; the encoder side runs the same loop.\n")
    out.append(_parameters_table(lr))
    table, flags = _macs_table(lr)
    if table:
        out.append("kMAC/px (torch counter; per part, both counters when they differ):\n")
        out.append(table)
        listed = "\n".join(flags) if flags else "none: both counters agree on every part."
        out.append("Counters differing by more than 1 %:\n\n" + listed + "\n")
    else:
        out.append("No MAC counts in these rows (`codec.params.complexity=false`).\n")
    out.append("### Timing\n")
    syncs = sorted(lr["timing_sync"].dropna().astype(str).unique()) if "timing_sync" in lr else []
    out.append("Per codec and rate point, over images: median and interquartile range (p25-p75) in seconds of the timed "
               "`compress()` and `decompress()` (decode in the decoder process), split into network (the model's parts) and "
               "entropy coding (the rest of the call: quantisation, CDF indexes, rANS, the serial loop). The first runs of "
               "each model shape and coded size in a process are warm-up, not timed (count per row: `timing_warmup`; the "
               "first of them is the complexity count). CUDA synchronisation: " + (", ".join(syncs) or "n/a") + ".\n")
    out.append(_timing_table(lr))
    out.append("### Bitstream portability\n")
    out.append("Every bitstream was decoded in a fresh decoder process from its file alone (on the encoder's device; when "
               "that was a GPU, on the CPU too) and compared with the encoder side. By *pixels*: the decoded picture against "
               "the encoder-side reconstruction of the same latents. By *latents* (decoder on the encoder's device and "
               "threads): the latents the decoder entropy-decoded and its weights are bit-identical to the encoder's, so "
               "its picture is the encoder-side reconstruction (a difference is measured in pixels instead).\n")
    table, bad = _portability(lr)
    out.append(table)
    out.append(("Bitstreams not portable:\n\n" + "\n".join(bad)) if bad else
               "Not portable: none (every bitstream decoded to the encoder-side picture on every device tried).")
    return "\n".join(out) + "\n"
