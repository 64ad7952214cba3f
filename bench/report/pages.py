"""One static HTML page per image (no server: files beside the report), and the report's section that
shows the panels and links the pages.

    report_files/images/<image>.html      the image's panels, its own RD curves (the panel's points
                                          ringed), its rows and its per-image BD-rates
    report_files/images/<image>_panel.png the panel (bench.report.panels)
    report_files/images/<image>_rd.png    its RD curves
    report_files/images/<image>_where.png the whole picture with the panel's region outlined (index)
    report_files/images/panels.csv        every tile shown: image, codec, point, bpp, target, region, source
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from bench.core.files import atomic_write_bytes
from bench.core.text import fmt_point, md_table
from bench.report.figures import axis_label, styles
from bench.report.markdown import markdown_to_html
from bench.report.panels import Panel, PanelOptions, codec_labels, panel_metric_columns, safe_name

FOLDER = "images"  # under the report's figure folder


def page_names(keys: Sequence[tuple[str, str]]) -> dict[tuple[str, str], str]:
    """(dataset, image) -> file stem; the dataset joins the name only when the sweep has several."""
    several = len({d for d, _ in keys}) > 1
    out: dict[tuple[str, str], str] = {}
    for d, i in keys:
        stem = safe_name(f"{d}_{i}" if several else i)
        while stem in out.values():
            stem += "_"
        out[(d, i)] = stem
    return out


def image_rd_figure(img: pd.DataFrame, metrics: Sequence[str], out_stem: Path, names: Sequence[str],
                    panels: Sequence[Panel] = ()) -> list[Path]:
    """This image's RD curve per codec for every metric; the points shown in its panels are ringed and
    each panel's target rate is a dotted line."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = [m for m in metrics if m in img and img[m].notna().any()]
    if not metrics:
        return []
    look = styles(list(names))
    labels = codec_labels(img)
    n = len(metrics)
    ncols = min(3, n)
    nrows = math.ceil(n / ncols)
    legend_rows = math.ceil((len(names) + bool(panels)) / 3)
    W, H = 4.3 * ncols, 3.4 * nrows + 0.25 + 0.2 * legend_rows  # inches
    fig, axes = plt.subplots(nrows, ncols, figsize=(W, H), dpi=110, squeeze=False)
    # Margins fixed in inches instead of tight_layout + bbox_inches="tight": those lay the figure out and
    # draw it twice more, and the per-image pages draw one figure per image (on Kodak 24 of them: 0.43 -> 0.27 s each).
    fig.subplots_adjust(left=0.45 / W, right=1 - 0.12 / W, top=1 - 0.3 / H, bottom=(0.62 + 0.2 * legend_rows) / H,
                        wspace=0.22, hspace=0.36)
    for ax, m in zip(axes.ravel(), metrics):
        for codec in [c for c in names if (img["codec"] == c).any()]:
            g = img[img["codec"] == codec].sort_values("bpp")
            colour, marker = look[codec]
            ax.plot(g["bpp"], g[m], color=colour, marker=marker, ms=4.5, lw=1.5, label=labels.get(codec, codec))
            for p in panels:
                shown = p.points.get(codec)
                sel = g[g["point"].astype(str) == str(shown)]
                if len(sel):
                    ax.scatter(sel["bpp"], sel[m], s=150, facecolors="none", edgecolors="black", linewidths=1.3, zorder=4)
        for p in panels:
            ax.axvline(p.target_bpp, color="0.45", ls=":", lw=1)
        ax.set_title(axis_label(m), fontsize=9)
        ax.set_xlabel("bpp", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(True, alpha=0.3)
        ax.spines[["top", "right"]].set_visible(False)
    for ax in axes.ravel()[n:]:
        ax.axis("off")
    handles, labs = axes.ravel()[0].get_legend_handles_labels()
    if panels:
        from matplotlib.lines import Line2D

        handles.append(Line2D([], [], marker="o", ls="", mfc="none", mec="black", ms=10))
        labs.append("shown in the panel (dotted: its target rate)")
    fig.legend(handles, labs, loc="lower center", ncol=min(3, len(labs)), fontsize=8, frameon=False)
    png = out_stem.with_suffix(".png")  # PNG only: one figure per image, the SVG would double the report's time
    png.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(png)
    plt.close(fig)
    return [png]


def _where_thumb(panel: Panel, original: np.ndarray | None, path: Path, box: tuple[int, int] = (160, 110)) -> bool:
    """The whole picture fitted into `box`, with the panel's region outlined (the index's thumbnail)."""
    if original is None or panel.region[2] == 0:
        return False
    import io

    from PIL import Image, ImageDraw

    H, W = original.shape[:2]
    s = min(box[0] / W, box[1] / H)
    im = Image.fromarray(original).resize((max(1, round(W * s)), max(1, round(H * s))), Image.LANCZOS)
    d = ImageDraw.Draw(im)
    x, y, w, h = panel.region
    d.rectangle([x * s - 1, y * s - 1, (x + w) * s + 1, (y + h) * s + 1], outline="#ffdd00", width=2)
    buf = io.BytesIO()
    im.save(buf, format="PNG", compress_level=6)
    atomic_write_bytes(path, buf.getvalue())
    return True


def _rows_table(img: pd.DataFrame, names: Sequence[str], cols: Sequence[str], panels: Sequence[Panel]) -> str:
    shown = {(c, str(p)) for pnl in panels for c, p in pnl.points.items()}
    rows = []
    for codec in [c for c in names if (img["codec"] == c).any()]:
        for r in img[img["codec"] == codec].sort_values("bpp").to_dict("records"):
            vals = [("n/a" if r.get(c) is None or not np.isfinite(float(r[c])) else f"{float(r[c]):.4f}") for c in cols]
            rows.append([f"`{codec}`", fmt_point(r["point"]), f"{float(r['bpp']):.4f}", *vals,
                         "panel" if (codec, str(r["point"])) in shown else ""])
    return md_table(["codec", "point", "bpp", *cols, "shown"], rows)


def _bd_table(results: Sequence, dataset: str, image: str, several: bool) -> str:
    key = f"{dataset}/{image}" if several else image
    rs = [r for r in results if r.per_image and key in r.per_image]
    if not rs:
        return ""
    metrics = list(dict.fromkeys(r.metric for r in rs))
    codecs_ = list(dict.fromkeys(r.test for r in rs))
    by = {(r.test, r.metric): r.per_image[key] for r in rs}
    fmt = lambda v: "n/a" if v is None or not np.isfinite(v) else f"{v:+.2f}"  # noqa: E731
    return (f"BD-rate [%] of this image's own curves against `{rs[0].anchor}` ({rs[0].method}; negative = fewer bits at "
            "equal quality; n/a = the curves share no quality range):\n\n"
            + md_table(["codec", *metrics], [[f"`{c}`", *[fmt(by.get((c, m))) for m in metrics]] for c in codecs_]))


def _panel_text(p: Panel, rel: str) -> str:
    out = [f"[![panel of {p.image}]({rel})]({rel})\n"]
    srcs = {}
    for t in p.tiles:
        kind = ("decoded again from the kept bitstream" if t.source.startswith("decoded again") else
                "saved PNG" if t.source.startswith("saved PNG") else "missing")
        srcs.setdefault(kind, []).append(t.codec)
    out.append("Reconstructions: " + "; ".join(f"{k}: {', '.join(v)}" for k, v in srcs.items())
               + " (each decoded picture gives its row's PSNR-RGB, checked).")
    for n in p.notes:
        out.append(f"\n- {n}")
    return "\n".join(out) + "\n"


def write_pages(df: pd.DataFrame, fig_dir: Path, panels: Sequence[Panel], *, names: Sequence[str], results: Sequence = (),
                originals=None, report_name: str = "report.html") -> dict[tuple[str, str], Path]:
    """Every image's page; returns (dataset, image) -> page path."""
    ok = df[df["status"] == "ok"] if "status" in df else df
    out_dir = fig_dir / FOLDER
    out_dir.mkdir(parents=True, exist_ok=True)
    keys = list(dict.fromkeys(ok.sort_values(["dataset", "image"])[["dataset", "image"]].itertuples(index=False, name=None)))
    stems = page_names(keys)
    several = len({d for d, _ in keys}) > 1
    by_image: dict[tuple[str, str], list[Panel]] = {}
    for p in panels:
        by_image.setdefault((p.dataset, p.image), []).append(p)
    cols = panel_metric_columns(ok)
    pages: dict[tuple[str, str], Path] = {}
    for k, (dataset, image) in enumerate(keys):
        img = ok[(ok["dataset"] == dataset) & (ok["image"] == image)]
        stem = stems[(dataset, image)]
        mine = by_image.get((dataset, image), [])
        first = img.iloc[0]
        size = (f"{int(first['width'])} x {int(first['height'])} px" if "width" in img and pd.notna(first.get("width")) else "")
        nav = [f"[back to the report](../../{report_name})"]
        if k > 0:
            nav.append(f"[previous: {keys[k - 1][1]}]({stems[keys[k - 1]]}.html)")
        if k + 1 < len(keys):
            nav.append(f"[next: {keys[k + 1][1]}]({stems[keys[k + 1]]}.html)")
        md = [f"# {image}\n", " · ".join(nav) + "\n",
              f"Dataset `{dataset}`; {size}; sha256 `{str(first.get('image_sha256', ''))[:16]}`; "
              f"{img['codec'].nunique()} codec(s), {len(img)} ok rows.\n"]
        if mine:
            md.append("## Reconstructions at matched rate\n")
            for p in mine:
                if p.path is None:
                    md.append("No panel: " + "; ".join(p.notes) + "\n")
                    continue
                md.append(_panel_text(p, p.path.name))
        rd = image_rd_figure(img, cols, out_dir / f"{stem}_rd", names, mine)
        if rd:
            md.append("## RD curves of this image\n")
            md.append(f"Each codec's rows for this image only (no averaging); ringed: the points in the panel.\n\n"
                      f"![RD curves of {image}]({rd[0].name})\n")
        md.append("## Rows\n")
        md.append("Whole-image values as measured by the sweep.\n\n" + _rows_table(img, names, cols, mine) + "\n")
        bd = _bd_table(results, dataset, image, several)
        if bd:
            md.append("## Per-image BD-rate\n")
            md.append(bd + "\n")
        page = out_dir / f"{stem}.html"
        atomic_write_bytes(page, markdown_to_html("\n".join(md), title=f"{image}: visual comparison and RD curves").encode())
        pages[(dataset, image)] = page
        if originals is not None and mine and mine[0].path is not None:
            rgb = originals.rgb(dataset, image, str(first.get("image_sha256", "")))
            _where_thumb(mine[0], None if not isinstance(rgb, np.ndarray) else rgb, out_dir / f"{stem}_where.png")
    _panels_csv(panels, out_dir / "panels.csv")
    return pages


def _panels_csv(panels: Sequence[Panel], path: Path) -> None:
    rows = []
    for p in panels:
        for t in p.tiles:
            rows.append({"dataset": p.dataset, "image": p.image, "codec": t.codec, "point": t.row.get("point"),
                         "bpp": t.row.get("bpp"), "target_bpp": p.target_bpp, "target_from": p.target_from,
                         "region_x": p.region[0], "region_y": p.region[1], "region_w": p.region[2], "region_h": p.region[3],
                         "region_rule": p.region_rule, "source": t.source or f"missing: {t.missing}",
                         "panel": p.path.name if p.path else ""})
    atomic_write_bytes(path, pd.DataFrame(rows).to_csv(index=False).encode())


def report_section(panels: Sequence[Panel], pages: dict[tuple[str, str], Path], options: PanelOptions, files: str,
                   fig_dir: Path, inline: int = 2) -> str:
    """The report's "Visual comparisons" section: the method, the first `inline` panels and an index of every page."""
    out = ["## Visual comparisons at matched rate\n"]
    target = (f"the rate{'s' if len(options.target_bpp) > 1 else ''} {', '.join(f'{b:g}' for b in options.target_bpp)} bpp"
              if options.target_bpp else
              (f"`{options.match}`'s point" if options.match else "a point of the learned codec (else of the anchor): the one "
               "inside the rate range every codec covers where the other codecs' nearest points come closest"))
    out.append(f"Each panel shows one image: the original and every codec's reconstruction at its rate point nearest "
               f"{target} (nearest in log bpp; a tile more than 20 % away says so in red), cropped to one region: "
               + ("the window where the tiles differ most (largest mean variance across the original and the reconstructions)"
                  if options.region == "auto" else
                  "the window where the codecs' LPIPS maps differ most" if options.region == "lpips" else
                  f"the region {options.region} given by the user")
               + ". Tiles are enlarged with nearest-neighbour sampling; labels give each row's whole-image bpp, PSNR-RGB, "
               "MS-SSIM dB and perceptual metrics. Reconstructions are decoded again from the kept bitstreams (or read from "
               "PNGs saved by the sweep) and must give the row's PSNR-RGB. Every image has its own page with its panel, RD "
               "curves, rows and per-image BD-rates (method: README, \"Visual comparisons\").\n")
    drawn = [p for p in panels if p.path is not None]
    missing = sorted({n for p in panels for n in p.notes})
    if not panels:
        out.append("_No panels (none asked for)._\n")
    elif not drawn:
        out.append("_No panel could be drawn:_ " + "; ".join(missing[:4]) + "\n")
    for p in drawn[:inline]:
        rel = f"{files}/{FOLDER}/{p.path.name}"
        out.append(f"### {p.image}\n")
        out.append(f"[![panel of {p.image}]({rel})]({rel})\n")
        page = pages.get((p.dataset, p.image))
        if page:
            out.append(f"Page: [{p.image}]({files}/{FOLDER}/{page.name})\n")
    if pages:
        out.append("### Every image\n")
        rows = []
        first = {}
        for p in panels:
            first.setdefault((p.dataset, p.image), p)
        for key, page in pages.items():
            p = first.get(key)
            thumb = fig_dir / FOLDER / f"{page.stem}_where.png"
            where = f"![{key[1]}]({files}/{FOLDER}/{thumb.name})" if thumb.is_file() else ""
            rate = f"{p.target_bpp:.3f}" if p else ""
            region = (f"{p.region[0]},{p.region[1]} {p.region[2]}x{p.region[3]}" if p and p.path else
                      ("; ".join(p.notes)[:80] if p else "no panel"))
            gap = ""
            if p and p.tiles:
                far = max(p.tiles, key=lambda t: abs(math.log(float(t.row["bpp"]) / p.target_bpp)))
                gap = f"{float(far.row['bpp']) / p.target_bpp - 1:+.0%} (`{far.codec}`)"
            rows.append([f"[{key[1]}]({files}/{FOLDER}/{page.name})", where, rate, gap, region])
        out.append(md_table(["image (page)", "the region, outlined", "target bpp", "largest rate gap", "region x,y w x h"], rows))
        out.append(f"\nEvery tile shown: `{files}/{FOLDER}/panels.csv`.\n")
    if missing:
        out.append("\nNot shown:\n\n" + "\n".join(f"- {m}" for m in missing[:20]) + "\n")
    return "\n".join(out) + "\n"
