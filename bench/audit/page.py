"""The audit's Markdown: one section per codec (<out>/<codec>/audit.md) and the page that joins them
(<out>/audit.md, which `bench report` includes when <out> is the sweep's audit/ folder)."""

from __future__ import annotations

import math
import re
from pathlib import Path

from bench.core.files import atomic_write_bytes
from bench.core.text import md_table
from bench.report.markdown import markdown_to_html

INDEX = "audit.md"
SAME_PATH_NOTE = ("The two harnesses make the same library calls here, so this BD-rate must be ~0: anything else "
                  "means one of them changed (a Pillow upgrade on one side, another parameter).")


def _db(v) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if math.isinf(v) and v > 0:
        return "inf (exact)"
    return "n/a" if not math.isfinite(v) else f"{v:.2f}"


def _small(v: float, digits: int, unit: str = "") -> str:
    """Signed, `digits` decimals; a value that would print as zero keeps two significant digits instead
    (the audit's point is whether a gap is 0 or 1e-6)."""
    if v != 0 and abs(v) < 0.5 * 10 ** -digits:
        return f"{v:+.1e}{unit}"
    return f"{v:+.{digits}f}{unit}"


def _pct(v) -> str:
    return "n/a" if v is None or not math.isfinite(float(v)) else _small(float(v), 2, " %")


def _fmt_point(p) -> str:
    f = float(p)
    return str(int(f)) if f.is_integer() else f"{f:g}"


def _ceiling(v) -> str:
    if v is None:
        return "n/a"
    v = float(v)
    if math.isinf(v):
        return "none: the round trip is exact, so only the codec limits PSNR-RGB"
    mse = 255.0 ** 2 / 10 ** (v / 10)
    return f"{v:.2f} dB: a lossless codec behind this path scores no higher on these pictures (RGB MSE {mse:.3f})"


def section(r) -> str:
    """The Markdown section of one audited codec (an AuditResult)."""
    name = r.point_name
    out = [f"### `{r.codec}` ({r.adapter}) against CompressAI's bench `{r.peer}`\n"]
    imgs = ", ".join(i["name"] for i in r.images)
    out.append(f"Pictures: {len(r.images)} ({imgs}). Points: {name} {', '.join(_fmt_point(p) for p in r.points)}. "
               f"Encoder: {r.encoder.split(' Copyright')[0]}.")
    if r.cfg:
        out.append(f"cfg: `{r.cfg['cfg']}` (set {r.cfg['cfg_version']}; {r.cfg['cfg_reason']}).")
    if r.peer_command:
        out.append(f"\nCompressAI {r.peer_version}: `{r.peer_command}`" + (f" ({r.peer_description})" if r.peer_description else ""))
    out.append("")
    if math.isfinite(r.bd_rate):
        out.append(f"**BD-rate of bench's path against CompressAI's: {_pct(r.bd_rate)}** (PSNR-RGB, pchip; BD-PSNR "
                   f"{_small(r.bd_psnr, 3)} dB). Negative: bench's path needs fewer bits for the same PSNR-RGB.")
        if r.same_path:
            out.append(SAME_PATH_NOTE)
        out += [f"- warning: {w}" for w in r.bd_warnings]
    elif not r.peer_command:
        out.append("**BD-rate: not computed**: CompressAI's bench was not run (`--no-compressai`).")
    else:
        out.append("**BD-rate: not computed** (see the failures below).")
    rows = []
    peer = {float(c["point"]): c for c in r.peer_curve}
    for b in r.bench_curve:
        c = peer.get(float(b["point"]))
        rows.append([_fmt_point(b["point"]), b["peer_q"], f"{b['bpp']:.4f}", _db(b["psnr_rgb"]),
                     f"{c['bpp']:.4f}" if c else "n/a", _db(c["psnr_rgb"]) if c else "n/a",
                     _small(100 * (b["bpp"] / c["bpp"] - 1), 2, " %") if c else "n/a",
                     _small(b["psnr_rgb"] - c["psnr_rgb"], 3) if c and math.isfinite(b["psnr_rgb"] - c["psnr_rgb"]) else "n/a"])
    out += ["", "RD points (means over the pictures of per-picture bpp and PSNR-RGB):", "",
            md_table([name, "CompressAI -q", "bench bpp", "bench PSNR-RGB dB", "CompressAI bpp", "CompressAI PSNR-RGB dB",
                      "bpp bench vs CompressAI", "PSNR-RGB bench - CompressAI dB"], rows)]

    out += ["", "#### (a) The colour path's own loss", ""]
    cp = r.colour_path or {}
    prow = []
    if cp:
        prow.append(["bench, pass-through codec", cp.get("bench_what", ""), _db((cp.get("bench") or {}).get("psnr_rgb")),
                     _ceiling((cp.get("bench") or {}).get("psnr_rgb"))])
        prow.append(["CompressAI, pass-through codec", cp.get("peer_what", ""), _db((cp.get("peer") or {}).get("psnr_rgb")),
                     _ceiling((cp.get("peer") or {}).get("psnr_rgb"))])
    pr = r.probe or {}
    for who, key in (("bench", "bench"), ("CompressAI", "peer")):
        c = pr.get(key)
        prow.append([f"{who}, {pr.get('what', '')}", f"{c['bpp']:.3f} bpp" if c else "", _db(c["psnr_rgb"]) if c else "n/a",
                     "codec loss included" if c else ""])
    out.append(md_table(["path", "what", "PSNR-RGB dB", "RGB ceiling"], prow))
    if not cp:
        out.append("\nThe colour conversion happens inside the codec library on both sides: only the lowest-loss "
                   "setting can be measured, and it includes the codec's own loss.")

    out += ["", "#### What differs between the two paths", ""] + [f"- {d}" for d in r.differences]

    if r.cfg_diff:
        d = r.cfg_diff
        out += ["", f"#### cfg against your checkout's `{Path(d['public']).name}`", "",
                f"`{d['ours']}` against `{d['public']}`: {len(d['rows'])} option(s) differ"
                + (f", {sum(not x['named_in_header'] for x in d['rows'])} of them not named in the shipped file's header "
                   "(look at those)." if d["rows"] else ".")]
        if d["rows"]:
            out += ["", md_table(["option", "bench's cfg", "public file", "named in the header"],
                                 [[x["option"], x["ours"], x["public"], "yes" if x["named_in_header"] else "**no**"]
                                  for x in d["rows"]])]
    if r.failures:
        out += ["", "#### Failures", ""] + [f"- {f}" for f in r.failures]
    out += ["", f"Files: `{r.codec}/audit.json`, `{r.codec}/points.csv`, `{r.codec}/compressai.json`, "
            f"`{r.codec}/compressai.log`; audited {r.when}."]
    return "\n".join(out) + "\n"


def write_index(out_dir: Path) -> Path:
    """<out_dir>/audit.md (+ .html): every codec section under out_dir, by codec name."""
    parts = ["## Anchor audit against CompressAI's bench\n",
             "Written by `bench audit` (bench.audit): the same pictures and points through bench's path and through "
             "`python -m compressai.utils.bench` with the same binary; (a) each colour path's own loss, (b) the BD-rate "
             "of bench's path against CompressAI's with both RD point sets. BD-rate < 0: bench's path needs fewer bits "
             "at equal PSNR-RGB.\n"]
    summary = []
    for md in sorted(out_dir.glob(f"*/{INDEX}")):
        text = md.read_text().strip()
        bd = re.search(r"BD-rate of bench's path against CompressAI's: ([^*]+)\*\*", text)
        summary.append([f"`{md.parent.name}`", bd[1].strip() if bd else "n/a"])
        parts.append(text + "\n")
    if summary:
        parts.insert(2, md_table(["codec", "BD-rate, bench vs CompressAI (PSNR-RGB)"], summary) + "\n")
    page = "\n".join(parts)
    path = out_dir / INDEX
    atomic_write_bytes(path, page.encode())
    atomic_write_bytes(out_dir / "audit.html", markdown_to_html(page, title="Anchor audit").encode())
    return path
