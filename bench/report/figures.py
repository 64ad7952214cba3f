"""RD plots from the per-image rows: one curve per codec, each point the mean over images.

    rd_plot(df, "psnr_rgb", out_dir / "rd_psnr_rgb")                       # PNG + SVG
    rd_plot(df, "psnr_rgb", stem, per_image=True, published=[pub, ...], anchor="vvenc_420_10bit")

Each codec keeps one colour and one marker across every plot of a sweep (by sorted name);
published curves (bench.analysis.published) are dashed with hollow markers; per-image curves, when asked
for, are thin lines in the codec's colour behind the means.  The legend sits outside the axes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Sequence

import pandas as pd

from bench import metrics as M
from bench.results.tables import summarize

MARKERS = ["o", "s", "^", "D", "v", "P", "X", "*", "<", ">", "h", "p"]
COLOURS = ["#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f",
           "#393b79", "#637939", "#8c6d31", "#843c39", "#7b4173"]


def axis_label(metric: str) -> str:
    """The registry's label ('PSNR-RGB [dB]'), with the direction for lower-is-better metrics."""
    info = M.METRICS.get(metric, {})
    label = M.label(metric)
    if info and not info.get("higher_is_better", True) and "lower is better" not in label:
        label += " (lower is better)"
    return label


def save_figure(fig, out_stem: Path) -> list[Path]:
    """<out_stem>.png and .svg, then the figure is closed.  Each file is written whole and renamed into
    place (bench.core.files.atomic_write_bytes): two jobs redrawing a sweep's plots at once never leave
    a half-written image, and the files follow the umask."""
    import io

    import matplotlib.pyplot as plt

    from bench.core.files import atomic_write_bytes

    paths = [out_stem.with_suffix(".png"), out_stem.with_suffix(".svg")]
    with plt.rc_context({"svg.fonttype": "none"}):  # SVG text stays text: smaller, editable, searchable
        for p in paths:
            buf = io.BytesIO()
            fig.savefig(buf, format=p.suffix[1:], bbox_inches="tight")
            atomic_write_bytes(p, buf.getvalue())
    plt.close(fig)
    return paths


def styles(names: Sequence[str]) -> dict[str, tuple[str, str]]:
    """A stable (colour, marker) per name: the same codec looks the same in every plot of a report."""
    return {n: (COLOURS[i % len(COLOURS)], MARKERS[i % len(MARKERS)]) for i, n in enumerate(names)}


def rd_plot(df: pd.DataFrame, metric: str, out_stem: Path, *, per_image: bool = False, published: Sequence = (),
            anchor: str | None = None, title: str | None = None, codecs: Sequence[str] | None = None) -> list[Path]:
    """Write <out_stem>.png and .svg; returns the paths (none when there is nothing to draw).

    per_image: draw each image's own curve thinly behind the means.  published: bench.analysis.published.Published
    curves, drawn dashed (skipped when they lack `metric`).  codecs: restrict (and order) the sweep codecs."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    summary = summarize(df) if len(df) and "status" in df else pd.DataFrame()
    have_rows = not summary.empty and metric in summary and summary[metric].notna().any()
    pubs = [p for p in published if metric in p.curve and p.curve[metric].notna().any()]
    if not have_rows and not pubs:
        return []
    names = sorted(summary["codec"].unique()) if have_rows else []
    if codecs is not None:
        names = [c for c in codecs if c in set(names)]
    look = styles(names + [p.name for p in pubs])

    fig, ax = plt.subplots(figsize=(8.2, 5.2), dpi=130)
    if have_rows and per_image:
        ok = df[(df["status"] == "ok") & df["codec"].isin(names)]
        for (codec, _img), g in ok.groupby(["codec", "image"], sort=True):
            g = g.sort_values("bpp")
            ax.plot(g["bpp"], g[metric], color=look[codec][0], lw=0.7, alpha=0.3, marker=look[codec][1], ms=2.5, zorder=1)
    for codec in names:
        g = summary[summary["codec"] == codec].sort_values("bpp")
        colour, marker = look[codec]
        name = codec
        if "codec_label" in df:  # a config's `label` (e.g. "demo ... not the zoo") beats the bare name
            labels = df.loc[df["codec"] == codec, "codec_label"].dropna()
            name = str(labels.iloc[0]) if len(labels) else codec
        label = f"{name} (n={int(g['n_images'].max())})" + (" - anchor" if codec == anchor else "")
        ax.plot(g["bpp"], g[metric], color=colour, marker=marker, ms=5.5, lw=2.2 if codec == anchor else 1.7,
                label=label, zorder=3)
    for p in pubs:
        c = p.curve.sort_values("bpp")
        colour, marker = look[p.name]
        ds = f", {p.dataset}" if p.dataset else ""
        ax.plot(c["bpp"], c[metric], color=colour, marker=marker, ms=5, mfc="white", ls="--", lw=1.4,
                label=f"{p.name} (published{ds})" + (" - anchor" if p.name == anchor else ""), zorder=2)

    datasets = ", ".join(sorted(summary["dataset"].astype(str).unique())) if have_rows else ", ".join(sorted({p.dataset for p in pubs}))
    ax.set_xlabel("rate [bpp]  (bitstream bytes x 8 / original pixels)")
    ax.set_ylabel(axis_label(metric))
    sub = "mean over images of per-image bpp and " + M.label(metric, unit=False)
    if per_image:
        sub += "; thin lines: each image"
    ax.set_title(title or f"{datasets}\n{sub}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False, borderaxespad=0.0)
    return save_figure(fig, out_stem)


def per_image_bd_plot(results: Sequence, out_stem: Path, names_order: Sequence[str] | None = None) -> list[Path]:
    """Per-image BD-rate distribution of one metric (bench.analysis.bd.Comparison list): a dot per image, their
    mean as a hollow diamond, the BD-rate of the mean curves as a bar and its bootstrap CI as a whisker."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    rs = [r for r in results if r.per_image]
    if not rs:
        return []
    look = styles(list(names_order) if names_order else [r.test for r in rs])
    fig, ax = plt.subplots(figsize=(max(4.5, 1.3 * len(rs) + 2), 4.2), dpi=130)
    rng = np.random.default_rng(0)
    for i, r in enumerate(rs):
        colour = look.get(r.test, ("#444444", "o"))[0]
        vals = np.array([v for v in r.per_image.values() if np.isfinite(v)])
        ax.scatter(i + rng.uniform(-0.12, 0.12, len(vals)), vals, s=14, color=colour, alpha=0.6, zorder=2)
        if np.isfinite(r.bd_rate):
            ax.hlines(r.bd_rate, i - 0.3, i + 0.3, color=colour, lw=2.5, zorder=3)
        if len(vals):  # the other aggregation: the mean of the per-image BD-rates
            ax.scatter([i - 0.33], [vals.mean()], marker="D", s=34, facecolors="white", edgecolors=colour, linewidths=1.5, zorder=4)
        lo, hi = r.bd_rate_ci
        if np.isfinite(lo) and np.isfinite(hi):
            ax.vlines(i + 0.33, lo, hi, color=colour, lw=1.5, zorder=3)
    ax.axhline(0, color="black", lw=0.8)
    ax.set_xticks(range(len(rs)), [r.test for r in rs], rotation=20, ha="right", fontsize=8)
    ax.set_ylabel(f"BD-rate vs {rs[0].anchor} [%]")
    ax.set_title(f"{M.label(rs[0].metric, unit=False)}: per-image BD-rate (dots) and their mean (diamond),\n"
                 f"BD-rate of the mean curves (bar) with its {int(rs[0].ci_level * 100)} % bootstrap CI (whisker)", fontsize=9)
    ax.grid(True, axis="y", alpha=0.3)
    ax.spines[["top", "right"]].set_visible(False)
    return save_figure(fig, out_stem)
