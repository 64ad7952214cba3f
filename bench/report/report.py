"""One report page per sweep: Markdown and HTML, with RD plots, BD tables with CIs and provenance.

    bench report results/<sweep> [--anchor CODEC] [--published FILE.json ...]
                 [--boot 1000] [--seed 0] [--method pchip|akima|cubic] [--metrics ...]

Writes results/<sweep>/report.md, report.html and their figures under results/<sweep>/report_files/
(plus the sweep's averaged curves in CompressAI's JSON format under report_files/compressai/).
Library use (the main job): `write_report(sweep_dir, anchor=None, published=()) -> Path` (report.md).

The perception-distortion section comes from `bench.report.perception.markdown_section(df, out_dir)`,
written into its own figure folder; the learned-codec section (complexity, timing, portability) from
`bench.report.learned.markdown_section(df)`.  The visual comparisons (panels at matched rate) and the
per-image pages come from `bench.report.panels` and `bench.report.pages` (report_files/images/).  The
anchor audit's section is the file `bench audit --sweep` writes, <sweep>/audit/audit.md, included as
it is when present (this layer does not import bench.audit).
"""

from __future__ import annotations

import json
import math
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from bench import __version__
from bench import metrics as M
from bench.analysis.bd import Comparison, available_metrics, bd_matrix, default_anchor, fmt_ci, fmt_pct
from bench.analysis.published import export_sweep, load_many
from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes
from bench.core.text import fmt_point
from bench.core.text import md_table as _md_table
from bench.report import learned, pages, perception
from bench.report.figures import axis_label, per_image_bd_plot, rd_plot
from bench.report.markdown import markdown_to_html
from bench.report.panels import PanelOptions, make_panels
from bench.report.pictures import Originals
from bench.results.tables import load_rows

FILES = "report_files"
PRIMARY = M.PRIMARY  # metrics that also get per-image RD plots and per-image BD tables


def _encoder(s) -> str:
    return str(s).split(" Copyright")[0] if isinstance(s, str) else ""


def _first(g: pd.DataFrame, col: str, default=""):
    if col not in g:
        return default
    v = g[col].dropna()
    return v.iloc[0] if len(v) else default


# ------------------------------------------------------------------------------------- sections


def _dataset_section(df: pd.DataFrame) -> str:
    datasets = sorted(df["dataset"].astype(str).unique())
    imgs = df.drop_duplicates(["dataset", "image"]).sort_values(["dataset", "image"])
    rows = []
    for r in imgs.itertuples():
        w, h = getattr(r, "width", None), getattr(r, "height", None)
        size = f"{int(w)} x {int(h)}" if pd.notna(w) and pd.notna(h) else "?"
        rows.append([r.dataset, r.image, size, str(getattr(r, "image_sha256", ""))[:16]])
    return (f"## Dataset\n\n{', '.join(datasets)}: {len(imgs)} image(s).\n\n"
            + _md_table(["dataset", "image", "size (w x h)", "sha256 (first 16)"], rows) + "\n")


def _codec_section(df: pd.DataFrame) -> str:
    rows = []
    for codec, g in df.groupby("codec", sort=True):
        ok = g[g["status"] == "ok"]
        points = sorted(g["point"].unique(), key=lambda p: (str(type(p)), p))
        colour = "/".join(str(_first(g, f"colour_{k}")) for k in ("matrix", "range", "chroma", "bit_depth") if f"colour_{k}" in g)
        hashes = ", ".join(sorted(g["codec_hash"].astype(str).unique())) if "codec_hash" in g else ""
        enc_s = ok["encode_s"].mean() if "encode_s" in ok and len(ok) else float("nan")
        dec_s = ok["decode_s"].mean() if "decode_s" in ok and len(ok) else float("nan")
        rows.append([f"`{codec}`", _first(g, "adapter"), _encoder(_first(g, "encoder")),
                     f"{_first(g, 'point_name', 'point')} = {', '.join(fmt_point(p) for p in points)}",
                     colour, f"`{_first(g, 'codec_params')}`", hashes, f"{len(ok)} / {len(g) - len(ok)}",
                     f"{enc_s:.3f} / {dec_s:.3f}"])
    text = "## Codecs\n\n" + _md_table(
        ["codec", "adapter", "encoder (version)", "rate points", "colour (matrix/range/chroma/bits)", "parameters", "config hash",
         "rows ok / failed", "mean encode / decode s"], rows) + "\n"
    failed = df[df["status"] != "ok"]
    if len(failed):
        text += "\nFailed units (not in any curve):\n\n" + "\n".join(
            f"- `{r.codec}` {r.image} {getattr(r, 'point_name', 'point')}={fmt_point(r.point)}: {getattr(r, 'error', '')}"
            for r in failed.head(20).itertuples()) + ("\n- ..." if len(failed) > 20 else "") + "\n"
    return text


def _published_section(pubs, datasets: list[str]) -> str:
    if not pubs:
        return ""
    rows = []
    for p in pubs:
        match = "" if (p.dataset or "").lower() in {d.lower() for d in datasets} else " (differs from this sweep)"
        rows.append([p.name, f"`{p.path.name if p.path else ''}`", (p.dataset or "?") + match, p.description,
                     len(p.curve), "; ".join(p.notes)])
    return ("## Published references\n\nDataset-mean curves from CompressAI-format JSON files (no per-image values, so no "
            "confidence interval on their side). Curves on another dataset are drawn for orientation only; their BD "
            "values are flagged.\n\n" + _md_table(["name", "file", "dataset", "description", "points", "notes"], rows) + "\n")


def _cell(r: Comparison) -> str:
    """The summary cell: BD-rate of the mean curves with its CI, or the matched-rate delta where no BD-rate exists."""
    if r.basis == "matched rate":
        return f"matched rate {r.bd_metric:+.3f} {r.unit}".rstrip() + f" {fmt_ci(*r.bd_metric_ci, digits=3)}".replace(" n/a", "") + " !"
    return f"{fmt_pct(r.bd_rate)} {fmt_ci(*r.bd_rate_ci, digits=1)}".replace(" n/a", "") + (" !" if r.warnings else "")


def _p(x: float) -> str:
    return "n/a" if not np.isfinite(x) else f"{x:.3f}"


def _range(s, which: str) -> str:
    if s is None:
        return ""
    lo, hi = s.range(which)
    if not np.isfinite(lo):
        return "n/a"
    digits = 2 if s.quantity == "bd_rate" else 3
    return f"[{lo:+.{digits}f}, {hi:+.{digits}f}]" + (" **wider than CI**" if s.wider_than_ci(which) else "")


BD_DEFINITIONS = """Definitions (each column below names one of them):

- **BD-rate, mean curves** [%]: the Bjøntegaard delta rate between the dataset-averaged curves (mean over images of per-image
  bpp and metric) of the images both codecs have at all their points, {method} interpolation (`bjontegaard` package), MS-SSIM
  in dB. Negative: the codec needs fewer bits than the anchor at equal quality.
- **CI**: {lvl} % percentile bootstrap over images ({n_boot} resamples, seed {seed}): images drawn with replacement, the same
  images for both codecs, everything recomputed on each resample.
- **per-image mean / median** [%]: the mean / median over images of the BD-rate of each image's own curve pair (JPEG AI reports
  the per-image mean; DCVC both); images whose curves share no quality range are left out and counted. CI: the same resamples.
- **P(fewer bits)**: the paired bootstrap probability that the codec needs fewer bits than the anchor at equal quality: the
  fraction of the resamples with BD-rate < 0. It describes these images; it says nothing about other content or settings.
- **methods**: the mean-curve BD-rate under pchip, akima and cubic, and their range. **leave-one-point-out**: the range over
  the subsets that leave one rate point of one curve out ({method}; curves of 3 or more points). **wider than CI**: the range
  is wider than the bootstrap CI (max - min > CI high - CI low): the choice of interpolation or of rate points moves the
  result more than the choice of images does.
- **matched rate**: where the two curves share no quality range there is no BD-rate; the codecs are compared at equal rate
  instead: test - anchor in the metric's unit, averaged over the common log10(bpp) range (the BD-metric definition), with its
  CI; such cells say "matched rate". Their paired test, **better at equal rate**, is the fraction of the resamples in which
  that difference favours the codec.
- **BD-metric**: test - anchor at equal rate, averaged over the common log10(bpp) range, in the metric's unit.
"""


def _pairwise_section(ok: pd.DataFrame, metrics: list[str], method: str, n_boot: int, seed: int) -> str:
    from bench.analysis.bd import paired_probabilities

    if n_boot <= 0 or ok["codec"].nunique() < 2:
        return ""
    out = ["### Paired test between every two codecs\n",
           f"P(row needs fewer bits than column at equal quality): the fraction of {n_boot} paired bootstrap resamples of "
           f"the two codecs' common images in which the BD-rate ({method}, mean curves) of the row codec against the column "
           "codec is negative. n/a: no BD-rate (no common quality range).\n"]
    for m in [m for m in PRIMARY if m in metrics]:
        P = paired_probabilities(ok, m, method=method, n_boot=n_boot, seed=seed)
        if P.empty:
            continue
        out.append(f"{M.label(m, unit=False)} (`{m}`):\n")
        out.append(_md_table(["P(row < column)"] + [f"`{c}`" for c in P.columns],
                             [[f"`{r}`"] + ["" if r == c else _p(P.loc[r, c]) for c in P.columns] for r in P.index]))
        out.append("")
    return "\n".join(out) + "\n"


def _bd_section(results: list[Comparison], anchor: str, method: str, n_boot: int, seed: int, fig_dir: Path,
                names: list[str], ok: pd.DataFrame | None = None) -> str:
    if not results:
        return "## BD-rate\n\nNo comparisons: the sweep has a single codec.\n"
    metrics = list(dict.fromkeys(r.metric for r in results))
    codecs = list(dict.fromkeys(r.test for r in results if r.test != anchor))
    by = {(r.test, r.metric): r for r in results}
    lvl = int(results[0].ci_level * 100)
    out = [f"## BD-rate against `{anchor}`\n",
           BD_DEFINITIONS.format(method=method, lvl=lvl, n_boot=n_boot, seed=seed),
           "`!` marks a result with warnings (listed below each table).\n",
           f"### Summary: BD-rate [%] of the mean curves and {lvl} % CI\n",
           _md_table(["codec"] + [f"{m}" for m in metrics],
                     [[f"`{c}`"] + [("" if (c, m) not in by else _cell(by[(c, m)])) for m in metrics] for c in codecs]), ""]
    for m in metrics:
        rs = [r for r in results if r.metric == m]
        unit = rs[0].unit
        direction = "higher is better" if rs[0].higher_is_better else "lower is better"
        out.append(f"### {M.label(m, unit=False)} (`{m}`{', ' + unit if unit else ''}; {direction})\n")
        rows = []
        for r in rs:
            head = (fmt_pct(r.bd_rate) if r.basis != "matched rate" else f"matched rate {r.bd_metric:+.3f} {unit}".rstrip())
            head_ci = fmt_ci(*(r.bd_rate_ci if r.basis != "matched rate" else r.bd_metric_ci), digits=2 if r.basis != "matched rate" else 3)
            pim = f"{fmt_pct(r.per_image_mean)} {fmt_ci(*r.per_image_mean_ci, digits=1)}".replace(" n/a", "") if r.per_image else "n/a"
            pimed = f"{fmt_pct(r.per_image_median)} {fmt_ci(*r.per_image_median_ci, digits=1)}".replace(" n/a", "") if r.per_image else "n/a"
            undefined = f" ({r.per_image_undefined} undefined)" if r.per_image_undefined else ""
            pf = _p(r.p_fewer_bits) if r.basis != "matched rate" else f"n/a; better at equal rate: {_p(r.p_better_equal_rate)}"
            rows.append([f"`{r.test}`", head, head_ci, pim + undefined, pimed, pf,
                         f"{r.bd_metric:+.3f}" if np.isfinite(r.bd_metric) else "n/a", fmt_ci(*r.bd_metric_ci, digits=3),
                         r.n_images, "!" if r.warnings else ""])
        out.append("Aggregations and paired test:\n")
        out.append(_md_table(["codec", "BD-rate %, mean curves", f"{lvl} % CI", f"per-image mean % [{lvl} % CI]",
                              f"per-image median % [{lvl} % CI]", "P(fewer bits)", f"BD-metric {unit}".rstrip(), f"{lvl} % CI",
                              "images", ""], rows))
        srows = []
        for r in rs:
            s = r.sensitivity
            if s is None:
                continue
            k = 0 if s.quantity == "bd_rate" else 1
            vals = [s.methods.get(mm, (math.nan, math.nan))[k] for mm in ("pchip", "akima", "cubic")]
            cells = [("n/a" if not np.isfinite(v) else (fmt_pct(v) if k == 0 else f"{v:+.3f}")) for v in vals]
            srows.append([f"`{r.test}`", "BD-rate %" if k == 0 else f"matched rate {unit}".rstrip(), *cells,
                          _range(s, "methods"), _range(s, "loo").replace(" **", f" ({len(s.leave_one_out)} subsets) **", 1) if s.wider_than_ci("loo")
                          else f"{_range(s, 'loo')} ({len(s.leave_one_out)} subsets)",
                          fmt_ci(*(r.bd_rate_ci if k == 0 else r.bd_metric_ci), digits=2 if k == 0 else 3)])
        if srows:
            out.append("\nSensitivity of the mean-curve result to the interpolation and to the rate points:\n")
            out.append(_md_table(["codec", "quantity", "pchip", "akima", "cubic", "methods range", "leave-one-point-out range",
                                  f"{lvl} % CI"], srows))
        # the RD points each BD was computed from, beside the table
        pts, seen = [], set()
        for r in rs:
            for name, p in ((r.anchor, r.anchor_points), (r.test, r.test_points)):
                if name not in seen and p:
                    seen.add(name)
                    pts.append([f"`{name}`", "  ".join(f"{fmt_point(q)}: {b:.4f} / {v:.3f}" for q, b, v in p)])
        out.append(f"\nRD points (point: bpp / {m}, means over the images used):\n")
        out.append(_md_table(["codec", "points"], pts))
        warned = [(r, w) for r in rs for w in r.warnings]
        if warned:
            out.append("\nWarnings:\n")
            out += [f"- `{r.test}`: {w}" for r, w in warned]
        if m in PRIMARY and any(r.per_image for r in rs):
            imgs = sorted({i for r in rs for i in r.per_image})
            with_pi = [r for r in rs if r.per_image]
            out.append(f"\nPer-image BD-rate [%] on {m}:\n")
            out.append(_md_table(["image"] + [f"`{r.test}`" for r in with_pi],
                                 [[i] + [fmt_pct(r.per_image.get(i, float("nan"))) for r in with_pi] for i in imgs]))
            fig = per_image_bd_plot(with_pi, fig_dir / f"bd_per_image_{m}", names_order=names)
            if fig:
                out.append(f"\n![per-image BD-rate on {m}]({FILES}/{fig[0].name}) ([SVG]({FILES}/{fig[1].name}))")
        out.append("")
    if ok is not None:
        out.append(_pairwise_section(ok, metrics, method, n_boot, seed))
    return "\n".join(out) + "\n"


def _plots_section(df: pd.DataFrame, metrics: list[str], pubs, anchor: str | None, fig_dir: Path, names: list[str]) -> str:
    out = ["## RD curves\n", "Solid: this sweep (mean over images of per-image bpp and metric; n = images per point). "
           "Dashed, hollow markers: published curves. PNG inline, SVG linked.\n"]
    for m in metrics:
        paths = rd_plot(df, m, fig_dir / f"rd_{m}", published=pubs, anchor=anchor, codecs=names)
        if paths:
            out.append(f"### {axis_label(m)}\n\n![RD {m}]({FILES}/{paths[0].name}) ([SVG]({FILES}/{paths[1].name}))\n")
        if m in PRIMARY:
            pi = rd_plot(df, m, fig_dir / f"rd_{m}_per_image", per_image=True, anchor=anchor, codecs=names)
            if pi:
                out.append(f"Per image: ![RD {m} per image]({FILES}/{pi[0].name}) ([SVG]({FILES}/{pi[1].name}))\n")
    return "\n".join(out) + "\n"


def _rebase_links(md: str, prefix: str) -> str:
    """Prefix the relative targets of Markdown links and images (the hook links relative to its folder)."""
    def fix(m):
        target = m[2]
        if re.match(r"^([a-z][a-z0-9+.-]*:|/|#)", target, flags=re.IGNORECASE):
            return m[0]
        return f"{m[1]}{prefix}{target}{m[3]}"

    return re.sub(r"(!?\[[^\]]*\]\()([^)\s]+)(\))", fix, md)


def _perception_section(df: pd.DataFrame, fig_dir: Path) -> str:
    """bench.report.perception's section, in its own folder (report_files/perception/) so its figures
    never replace the report's; its relative links are rebased onto that folder."""
    out_dir = fig_dir / "perception"
    out_dir.mkdir(parents=True, exist_ok=True)
    text = (perception.markdown_section(df, out_dir) or "").strip()
    if not text:
        return ""
    text = _rebase_links(text, f"{FILES}/perception/")
    if not text.startswith("#"):
        text = "## Perception-distortion\n\n" + text
    return text + "\n"


def _audit_section(sweep_dir: Path) -> str:
    """The anchor audit's own page (`bench audit ... --sweep <sweep>` writes <sweep>/audit/audit.md), links
    rebased onto audit/; empty when the sweep was not audited."""
    page = sweep_dir / "audit" / "audit.md"
    if not page.is_file():
        return ""
    text = _rebase_links(page.read_text().strip(), "audit/")
    return (text if text.startswith("#") else "## Anchor audit\n\n" + text) + "\n"


def _provenance_section(df: pd.DataFrame, sweep_dir: Path, method: str, n_boot: int, seed: int, exported: list[Path]) -> str:
    from importlib import metadata

    def uniq(col):
        return sorted(df[col].dropna().astype(str).unique()) if col in df else []

    try:
        bj = metadata.version("bjontegaard")
    except metadata.PackageNotFoundError:
        bj = "?"
    packages = {}
    for s in uniq("packages"):
        try:
            for k, v in json.loads(s).items():
                packages.setdefault(k, set()).add(str(v))
        except ValueError:
            continue
    stamps = uniq("timestamp")
    runs = sorted(p.parent.parent.relative_to(sweep_dir).as_posix() for p in sweep_dir.glob("runs/**/.hydra/config.yaml"))
    lines = ["## Provenance\n",
             f"- lic-bench {__version__}; code revision(s) of the rows: {', '.join(f'`{g}`' for g in uniq('git_revision')) or '?'}",
             f"- host(s): {', '.join(uniq('host')) or '?'}; platform: {', '.join(uniq('platform')) or '?'}; "
             f"CPUs: {', '.join(uniq('cpus')) or '?'}; encoder threads: {', '.join(uniq('threads')) or '?'}",
             f"- rows computed {stamps[0] if stamps else '?'} .. {stamps[-1] if stamps else '?'} (UTC); "
             f"{len(df)} rows, {int((df['status'] == 'ok').sum())} ok",
             "- packages: " + ", ".join(f"{k} {'/'.join(sorted(v))}" for k, v in sorted(packages.items())),
             f"- BD: `bjontegaard` {bj}, method {method}, bootstrap {n_boot} resamples, seed {seed}",
             "- aggregation: mean over images of per-image bpp and of each per-image metric (PSNR in dB; MS-SSIM dB per image); "
             "bpp = bitstream bytes x 8 / original pixels",
             "- Hydra runs (resolved config in `.hydra/`, `provenance.json`, `pip-freeze.txt`): "
             + (", ".join(f"`{r}`" for r in runs) if runs else "none in this folder"),
             "- rows: `rows/*.json`, tables `results.parquet`, `results.csv`, `summary.csv`",
             f"- rebuild this page: `bench report {sweep_dir}`"]
    if exported:
        lines.append("- averaged curves in CompressAI's JSON format: " + ", ".join(f"`{FILES}/compressai/{p.name}`" for p in exported))
    lines.append(f"- page written {datetime.now(timezone.utc).isoformat(timespec='seconds')}")
    return "\n".join(lines) + "\n"


# ----------------------------------------------------------------------------------- the report


def _visual_section(df: pd.DataFrame, sweep_dir: Path, fig_dir: Path, anchor: str | None, names: list[str], results,
                    panels: PanelOptions | None, originals: Sequence[Path], inline: int) -> str:
    """Panels (bench.report.panels) and the per-image pages (bench.report.pages)."""
    if panels is None:
        return ""
    orig = Originals(sweep_dir, originals)
    made = make_panels(df, sweep_dir, fig_dir / pages.FOLDER, anchor=anchor, options=panels, originals=orig)
    written = pages.write_pages(df, fig_dir, made, names=names, results=results, originals=orig)
    return pages.report_section(made, written, panels, FILES, fig_dir, inline=inline)


def build_markdown(sweep_dir: Path, anchor: str | None = None, published: Sequence = (), *, method: str = "pchip",
                   n_boot: int = 1000, seed: int = 0, metrics: Sequence[str] | None = None,
                   panels: PanelOptions | None = PanelOptions(), originals: Sequence[Path] = (), inline_panels: int = 2) -> str:
    sweep_dir = Path(sweep_dir)
    df = load_rows(sweep_dir)
    if df.empty:
        raise BenchError(f"{sweep_dir}: no rows")
    if not (df["status"] == "ok").any():
        raise BenchError(f"{sweep_dir}: no ok rows (all {len(df)} failed): nothing to report; "
                         "their reasons are in the rows' error column (results.csv)")
    fig_dir = sweep_dir / FILES
    fig_dir.mkdir(parents=True, exist_ok=True)
    ok = df[df["status"] == "ok"]
    sweep_codecs = sorted(ok["codec"].unique())
    pubs = load_many(published, sweep_codecs=set(sweep_codecs))
    metrics = list(dict.fromkeys(metrics or available_metrics(ok)))
    chosen = anchor is not None
    if anchor is None and (sweep_codecs or pubs):
        anchor = default_anchor(sweep_codecs) if sweep_codecs else default_anchor([p.name for p in pubs])
    names = sweep_codecs
    datasets = sorted(df["dataset"].astype(str).unique())

    parts = [f"# RD report: {sweep_dir.name}\n",
             f"Dataset {', '.join(datasets)}; {len(sweep_codecs)} codec(s); anchor `{anchor}`"
             + ("" if chosen else " (the default: the VVC intra codec, else HEVC intra, else the first by name)") + ".\n"]
    parts.append(_dataset_section(df))
    parts.append(_codec_section(df))
    parts.append(_published_section(pubs, datasets))
    parts.append(_plots_section(df, metrics, pubs, anchor, fig_dir, names))
    results: list[Comparison] = []
    if anchor is not None and len(sweep_codecs) + len(pubs) > 1 and not ok.empty:
        _, results = bd_matrix(ok, anchor, metrics, method=method, n_boot=n_boot, seed=seed, published=pubs)
        bd_text = _bd_section(results, anchor, method, n_boot, seed, fig_dir, names, ok)
    else:
        bd_text = "## BD-rate\n\nOne codec and no published curve: nothing to compare.\n"
    if not ok.empty:
        parts.append(_visual_section(df, sweep_dir, fig_dir, anchor, names, results, panels, originals, inline_panels))
    parts.append(bd_text)
    parts.append(_perception_section(df, fig_dir))
    parts.append(learned.markdown_section(df))  # complexity, timing and portability of learned codecs ("" if none)
    parts.append(_audit_section(sweep_dir))
    exported = export_sweep(df, fig_dir / "compressai") if not ok.empty else []
    parts.append(_provenance_section(df, sweep_dir, method, n_boot, seed, exported))
    return "\n".join(p for p in parts if p)


def write_report(sweep_dir: Path, anchor: str | None = None, published=(), **kw) -> Path:
    """Write <sweep_dir>/report.md and report.html; returns the Markdown path.  Keyword options:
    method ('pchip'), n_boot (1000), seed (0), metrics (default: every metric in the rows), panels
    (bench.report.panels.PanelOptions; None: no visual comparisons), originals (folders holding the
    original pictures, beside the sweep's dataset configs), inline_panels (panels shown in the report itself)."""
    sweep_dir = Path(sweep_dir)
    md = build_markdown(sweep_dir, anchor, published, **kw)
    md_path = sweep_dir / "report.md"
    atomic_write_bytes(md_path, md.encode())
    atomic_write_bytes(sweep_dir / "report.html", markdown_to_html(md, title=f"RD report: {sweep_dir.name}").encode())
    return md_path
