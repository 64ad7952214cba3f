"""The perception-distortion analysis as figures and a Markdown section (the numbers are
`bench.analysis.perception`'s): PSNR against each perceptual metric at matched rates, RD curves of
the common images, and the tables of rank flips, pairwise verdicts, rankings and correlations.

`markdown_section(df, out_dir)` is what the report includes; `write(sweep_dir)` is the command
`bench perception results/<sweep>`: perception.md, pd_*.png/.svg and perception_*.csv.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from bench.analysis.perception import (N_MATCHED, REFERENCE, common_range, info, interp, label, mean_curves, rate_grid,
                                       tables)
from bench.core.files import atomic_write_bytes
from bench.core.text import md_table
from bench.report.figures import rd_plot, save_figure, styles

def scatter(ok: pd.DataFrame, metric: str, out_stem: Path, reference: str = REFERENCE) -> list[Path]:
    """Reference (PSNR) against `metric`: faint per-image rows, each codec's mean curve, and the codecs
    at matched rates (same marker = same rate, grey line joining the codecs at one rate)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    curves = mean_curves(ok, [reference, metric])
    if not curves:
        return []
    style = styles(sorted(curves))
    fig, ax = plt.subplots(figsize=(7.5, 5.5), dpi=120)
    for codec, g in ok.groupby("codec", sort=True):
        ax.scatter(g[reference], g[metric], s=9, alpha=0.25, color=style[codec][0], linewidths=0)
    for codec, cv in curves.items():
        ax.plot(cv[reference], cv[metric], "-", lw=1.2, color=style[codec][0], alpha=0.8,
                label=f"{codec} (mean curve, n={ok[ok.codec == codec].image.nunique()})")
    rng = common_range(list(curves.values())) if len(curves) > 1 else None
    if rng is not None:
        rates = rate_grid(rng, N_MATCHED)
        markers = ["o", "s", "^", "D", "v", "P", "X"]
        pts = {c: (interp(cv["bpp"], cv[reference], rates), interp(cv["bpp"], cv[metric], rates)) for c, cv in curves.items()}
        for k, r in enumerate(rates):
            xs = [pts[c][0][k] for c in curves]
            ys = [pts[c][1][k] for c in curves]
            o = np.argsort(xs)
            ax.plot(np.array(xs)[o], np.array(ys)[o], "-", color="0.6", lw=0.8, zorder=1)
            for c in curves:
                ax.scatter(pts[c][0][k], pts[c][1][k], marker=markers[k % len(markers)], s=48, color=style[c][0],
                           edgecolors="black", linewidths=0.6, zorder=3)
            ax.annotate(f"{r:.2f} bpp", (np.array(xs)[o][-1], np.array(ys)[o][-1]), fontsize=7, xytext=(4, 0),
                        textcoords="offset points", va="center", color="0.3")
    ax.set_xlabel(label(reference) + "  (higher is better)")
    ax.set_ylabel(label(metric))
    ax.set_title(f"perception vs distortion at matched rates: {reference} vs {metric}", fontsize=10)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=7, loc="best")
    fig.tight_layout()
    return save_figure(fig, out_stem)


# ---------------------------------------------------------------------------------- markdown


def _table(df: pd.DataFrame, cols: Sequence[str], nd=4) -> str:
    if df.empty:
        return "_(none)_\n"
    return md_table(cols, list(df[list(cols)].itertuples(index=False)), digits=nd) + "\n"


def analyse(df: pd.DataFrame, out_dir: Path, metrics: Sequence[str] | None = None, reference: str = REFERENCE) -> dict:
    """Every table (bench.analysis.perception.tables) and figure of the analysis (tables as
    DataFrames, figure paths under out_dir)."""
    out_dir = Path(out_dir)
    res = tables(df, metrics, reference)
    res["figures"] = []
    ok, ms = res["ok"], res["metrics"]
    for m in ms:
        if info(m).get("kind") == "perceptual" or m in ("lpips_alex", "dists"):
            res["figures"] += [p for p in scatter(ok, m, out_dir / f"pd_scatter_{m}", reference) if p.suffix == ".png"]
    for m in [reference, *ms]:
        try:
            res["figures"] += [p for p in rd_plot(ok, m, out_dir / f"pd_rd_{m}") if p.suffix == ".png"]
        except Exception as exc:  # the RD plot is a convenience here; the analysis stands without it
            print(f"[perception] rd plot {m}: {type(exc).__name__}: {exc}", file=sys.stderr)
    return res


def markdown_section(df: pd.DataFrame, out_dir: Path, metrics: Sequence[str] | None = None,
                     reference: str = REFERENCE) -> str:
    """The perception-distortion section (Markdown) of a report; figures are written into out_dir
    and linked relative to it."""
    res = analyse(df, out_dir, metrics, reference)
    return render(res, Path(out_dir), reference)


def render(res: dict, out_dir: Path, reference: str = REFERENCE) -> str:
    ok, ms = res["ok"], res["metrics"]
    L = ["## Perception-distortion analysis", ""]
    if ok.empty or not ms:
        L += ["_No perceptual metric in these rows (run the sweep with e.g. `'metrics=[psnr,ms_ssim,lpips,dists,vmaf,flip]'`)._", ""]
        return "\n".join(L)
    codecs = sorted(ok["codec"].unique())
    L += [f"Rows: {len(ok)} ({len(codecs)} codecs: {', '.join(codecs)}; {ok['image'].nunique()} images that every codec "
          f"has at all of its points; datasets: {', '.join(sorted(ok['dataset'].unique())) if 'dataset' in ok else '?'}). "
          f"Reference metric: `{reference}`; compared: {', '.join(f'`{m}`' for m in ms)}. "
          "Curves are means over images of per-image bpp and metric; matched rates are log-bpp linear "
          "interpolations of those curves (method: README, 'Perceptual metrics and the perception-distortion analysis').", ""]
    scat = [p for p in res["figures"] if p.name.startswith("pd_scatter_")]
    if scat:
        L += ["### PSNR against perceptual metrics at matched rates", ""]
        L += [f"![{p.stem}]({p.relative_to(out_dir) if p.is_relative_to(out_dir) else p})" for p in scat] + [""]
    flips = res["flips"]
    L += ["### Rank flips between PSNR and the other metrics", ""]
    if len(codecs) < 2:
        L += ["One codec only: no pair to compare.", ""]
    elif flips.empty:
        L += [f"None: every codec pair has the same winner under `{reference}` and under every compared metric.", ""]
    else:
        L += [f"{len(flips)} flip(s): the pair's winner under `{reference}` is the loser under the metric "
              "(winner by BD-rate sign where defined, else by the equal-rate delta; deltas are A - B at equal rate, "
              "in the metric's unit).", ""]
        L += [_table(flips, ["codec_a", "codec_b", "reference_winner", "reference_delta", "metric", "metric_winner",
                             "metric_basis", "metric_delta", "metric_bd_rate_pct", "images_disagreeing", "n_images"])]
    pw = res["pairwise"]
    L += ["### Pairwise comparison per metric", "",
          "`delta_equal_rate`: mean of A - B over the common log-rate range (metric unit); `bd_rate_pct`: BD-rate of A "
          "against B (pchip, bench.bd; negative = A needs fewer bits; n/a when undefined).", ""]
    L += [_table(pw, ["codec_a", "codec_b", "metric", "delta_equal_rate", "winner_equal_rate", "bd_rate_pct", "winner", "basis"])]
    rk = res["rankings"]
    if not rk.empty:
        L += ["### Codec ranking per metric", "",
              f"Mean interpolated value over {rk['bpp_lo'].iloc[0]:.3f}-{rk['bpp_hi'].iloc[0]:.3f} bpp (the range every "
              "codec covers); rank 1 = best; `reference_rank` = rank under " + f"`{reference}`.", ""]
        L += [_table(rk, ["metric", "codec", "mean_at_common_rates", "rank", "reference_rank"])]
    eq = res["equal_reference"]
    if not eq.empty:
        L += [f"### Perceptual metrics at equal {reference}", "",
              f"Mean of A - B over the {reference} range both curves cover (each metric interpolated linearly in "
              f"{reference}): which codec looks better at the same distortion.", ""]
        L += [_table(eq, ["codec_a", "codec_b", "metric", "reference_lo", "reference_hi", "delta_at_equal_reference",
                          "winner_at_equal_reference"])]
    co = res["correlations"]
    L += ["### Per-image rank correlation between metrics", "",
          "Spearman rho and Kendall tau-b, metrics oriented so that +1 = same ordering; mean [min, max] over images.", ""]
    if not co.empty:
        co = co.assign(spearman=[f"{a:.3f} [{b:.3f}, {c:.3f}]" for a, b, c in zip(co.spearman_mean, co.spearman_min, co.spearman_max)],
                       kendall=[f"{a:.3f} [{b:.3f}, {c:.3f}]" for a, b, c in zip(co.kendall_mean, co.kendall_min, co.kendall_max)])
        L += [_table(co, ["scope", "metric_a", "metric_b", "n_images", "spearman", "kendall"])]
    else:
        L += ["_(not enough rows)_", ""]
    rd = [p for p in res["figures"] if p.name.startswith("pd_rd_")]
    if rd:
        L += ["### RD curves per metric", ""]
        L += [f"![{p.stem}]({p.relative_to(out_dir) if p.is_relative_to(out_dir) else p})" for p in rd] + [""]
    return "\n".join(L)


def write(sweep_dir: Path, df: pd.DataFrame, metrics: Sequence[str] | None = None, reference: str = REFERENCE) -> dict:
    """perception.md, the figures and perception_*.csv into the sweep folder; returns the analysis."""
    sweep_dir = Path(sweep_dir)
    res = analyse(df, sweep_dir, metrics, reference)
    md = render(res, sweep_dir, reference)
    atomic_write_bytes(sweep_dir / "perception.md", md.encode())
    for name in ("pairwise", "flips", "rankings", "equal_reference", "correlations", "correlations_per_image"):
        t = res[name].drop(columns=["image_winners"], errors="ignore")
        atomic_write_bytes(sweep_dir / f"perception_{name}.csv", t.to_csv(index=False).encode())
    return res
