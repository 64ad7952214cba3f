"""Visual comparisons at matched rate: the original and every codec's reconstruction of one picture,
cropped to one region, side by side, each tile labelled with what the rows measured.

    panels = make_panels(df, sweep_dir, out_dir, anchor="vvenc_420_10bit", options=PanelOptions())

**Matched rate.** A panel has a target rate per image.  `--panel-bpp 0.25 0.5` asks for one panel per
target; otherwise the target is a reference codec's point: `--panel-match CODEC[:POINT]`, by default
the learned codec of the sweep (adapter under `bench.codecs.learned`; the first by name when there are
several), else the anchor, at its point inside the rate range every codec covers on that image where
the other codecs' nearest points come closest (the smallest largest log-rate gap; the lowest such
point on a tie), so that the tiles are as near to equal rate as the sweep's points allow.
Every codec then shows its point nearest the target in log(bpp); a tile more than 20 % off the target
says so in red.

**Region.** `auto` (default): the crop x crop window where the tiles of the panel differ most, i.e.
the largest window mean of the per-pixel variance across the tiles (original included; sum over
R, G, B), found exactly over every position with an integral image; windows within 16 px of the
picture's edge are left out when the picture is large enough (padding and scanner borders).  This is where the panel has the
most to show, wherever the codecs' errors differ (blur against blocking, ringing, colour shifts).
`lpips`: the window where the codecs' LPIPS maps (LPIPS v0.1 alex with spatial output, the `lpips`
package's own `spatial=True` path) disagree most, max - min over codecs of the window mean.  Or the
user's `x,y,w,h`.  The panel header says which rule chose the region.

**Tiles.** Crops are enlarged by an integer factor with nearest-neighbour sampling (no smoothing that
would hide or invent artefacts).  Labels: codec, rate point, bpp (and its distance from the target),
PSNR-RGB and MS-SSIM dB, and every structural/perceptual metric in the rows; all are the row's
whole-image values; the crop's own PSNR-RGB is given apart.  Error maps (optional, on by default):
mean absolute RGB difference to the original, one linear colour scale for every tile of the panel
(white = the 99th percentile of all the tiles' errors together, so the tiles compare directly).

Why by hand (PIL + numpy): the layout is a grid of exact pixels with text; matplotlib would resample
the crops at its own dpi.  Fonts: DejaVu Sans, shipped with matplotlib.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from bench import metrics as M
from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes
from bench.core.text import fmt_point
from bench.report.figures import styles
from bench.report.pictures import Missing, Originals, reconstruction

RATE_MISMATCH = 0.20  # a tile farther than this (relative) from the target bpp is flagged
MIN_CELL = 260  # px: a cell is at least this wide, so that small crops still get readable labels
LEARNED_MODULE = "bench.codecs.learned"


@dataclass
class PanelOptions:
    target_bpp: Sequence[float] = ()  # one panel per target; empty: the reference codec's point
    match: str | None = None  # reference codec, "CODEC" or "CODEC:POINT"; None: the learned codec, else the anchor
    region: str = "auto"  # auto | lpips | "x,y,w,h"
    crop: int = 128  # side of the square crop, pixels of the original
    zoom: int = 0  # integer enlargement; 0: the one that brings a tile nearest 288 px
    error_maps: bool = True
    images: Sequence[str] | None = None  # image names (None: every image)
    codecs: Sequence[str] | None = None  # codecs and their order (None: every codec, by name)
    columns: int = 0  # cells per row; 0: 4 without error maps, 2 with


@dataclass
class Tile:
    codec: str
    row: dict
    rgb: np.ndarray | None  # the full reconstruction (None: missing)
    source: str = ""
    missing: str = ""


@dataclass
class Panel:
    dataset: str
    image: str
    target_bpp: float
    target_from: str  # how the target was chosen, in words
    region: tuple[int, int, int, int]  # x, y, w, h in the original
    region_rule: str
    tiles: list[Tile]
    path: Path | None = None
    notes: list[str] = field(default_factory=list)
    boxes: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)  # where render() put each tile (x, y, w, h)

    @property
    def points(self) -> dict[str, object]:
        """codec -> the rate point shown (for marking it on the RD curves)."""
        return {t.codec: t.row.get("point") for t in self.tiles}


# ------------------------------------------------------------------------------ matched points


def learned_codecs(ok: pd.DataFrame) -> list[str]:
    """Codecs whose adapter is one of the learned ones (bench.codecs.learned), by name."""
    from bench import codecs

    out = []
    for codec, g in ok.groupby("codec", sort=True):
        name = str(g["adapter"].iloc[0]) if "adapter" in g else ""
        try:
            if codecs.adapter_class(name).__module__.startswith(LEARNED_MODULE):
                out.append(codec)
        except Exception:  # an adapter that is not importable here is simply not "learned"
            continue
    return out


def _parse_match(match: str | None, codecs_: Sequence[str]) -> tuple[str | None, str | None]:
    if not match:
        return None, None
    name, _, point = match.partition(":")
    if name not in codecs_:
        raise BenchError(f"--panel-match {name!r} is not a codec of the sweep ({', '.join(codecs_)})")
    return name, (point or None)


def _nearest(g: pd.DataFrame, target: float) -> dict:
    d = np.abs(np.log(g["bpp"].to_numpy(float)) - math.log(target))
    return g.iloc[int(np.argmin(d))].to_dict()


def _point_text(row) -> str:
    return f"{row.get('point_name') or 'point'}={fmt_point(row.get('point'))}"


def matched_rows(img: pd.DataFrame, codecs_: Sequence[str], *, target: float | None = None, reference: str | None = None,
                 ref_point: str | None = None) -> tuple[float, str, dict[str, dict]]:
    """(target bpp, how it was chosen, {codec: row}) for one image's ok rows."""
    have = [c for c in codecs_ if (img["codec"] == c).any()]
    if not have:
        raise ValueError("no rows")
    if target is not None:
        how = f"target {target:g} bpp"
    else:
        ref = reference if reference in have else have[0]
        g = img[img["codec"] == ref].sort_values("bpp")
        if ref_point is not None:
            sel = g[g["point"].astype(str) == str(ref_point)]
            if sel.empty:
                raise BenchError(f"--panel-match: {ref} has no point {ref_point} (points: {', '.join(map(str, g['point']))})")
            row = sel.iloc[0]
            how = f"{ref} {_point_text(row)}"
        else:
            lo = max(img[img["codec"] == c]["bpp"].min() for c in have)
            hi = min(img[img["codec"] == c]["bpp"].max() for c in have)
            inside = g[(g["bpp"] >= lo) & (g["bpp"] <= hi)]
            cands = inside if len(inside) else g
            others = [np.log(img[img["codec"] == c]["bpp"].to_numpy(float)) for c in have if c != ref]

            def worst(b: float) -> float:  # the largest log-rate gap between the target and another codec's nearest point
                return max((float(np.min(np.abs(o - math.log(b)))) for o in others), default=0.0)

            gaps = [worst(b) for b in cands["bpp"]]
            row = cands.iloc[int(np.argmin(gaps))]  # the first (lowest rate) of equal ones
            how = (f"{ref} {_point_text(row)} (its point inside the rate range every codec covers where the others' "
                   "nearest points are closest)" if len(inside) else
                   f"{ref} {_point_text(row)} (no point of it lies inside the rate range every codec covers; the one where "
                   "the others' nearest points are closest)")
        target = float(row["bpp"])
    return float(target), how, {c: _nearest(img[img["codec"] == c], target) for c in have}


# ------------------------------------------------------------------------------------ regions


def _window_sums(a: np.ndarray, h: int, w: int) -> np.ndarray:
    """Sum of `a` over every h x w window (top-left corners), exactly, by an integral image."""
    s = np.zeros((a.shape[0] + 1, a.shape[1] + 1))
    s[1:, 1:] = a.cumsum(0).cumsum(1)
    return s[h:, w:] - s[:-h, w:] - s[h:, :-w] + s[:-h, :-w]


MARGIN = 16  # windows keep this far from the picture's edges when it is large enough (padding, scanner borders)


def _best_window(sums: np.ndarray, h: int, w: int, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the largest window score, among the windows at least MARGIN px inside the picture when
    there are such windows: picture edges carry padding and scanner borders, rarely what a reader wants to see."""
    H, W = shape
    my = MARGIN if H - h >= 2 * MARGIN else 0
    mx = MARGIN if W - w >= 2 * MARGIN else 0
    inner = sums[my:sums.shape[0] - my, mx:sums.shape[1] - mx]
    y, x = np.unravel_index(int(np.argmax(inner)), inner.shape)
    return int(x + mx), int(y + my), int(w), int(h)


def region_where_tiles_differ(original: np.ndarray, recs: Sequence[np.ndarray], size: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the size x size window with the largest mean over its pixels of the variance across the
    tiles (the original and every reconstruction; summed over R, G, B)."""
    stack = np.stack([original, *recs]).astype(np.float64)
    score = stack.var(axis=0).sum(axis=-1)
    h, w = min(size, score.shape[0]), min(size, score.shape[1])
    return _best_window(_window_sums(score, h, w), h, w, score.shape)


def lpips_map(original: np.ndarray, rec: np.ndarray, device: str = "cpu") -> np.ndarray:
    """LPIPS v0.1 (alex) per pixel: the `lpips` package's forward pass with spatial output (each layer's
    distance map upsampled bilinearly to the picture and summed), on the weights bench.metrics.lpips loads."""
    import copy

    import torch

    from bench.metrics.base import to_tensor01
    from bench.metrics.lpips import load

    model, _ = load("alex", device)
    spatial = copy.copy(model)  # the cached model keeps spatial=False
    spatial.spatial = True
    with torch.no_grad():
        x0 = to_tensor01(original[None], device) * 2 - 1
        x1 = to_tensor01(rec[None], device) * 2 - 1
        out = spatial(x0, x1)
    return out[0, 0].cpu().numpy().astype(np.float64)


def region_where_lpips_differs(original: np.ndarray, recs: Sequence[np.ndarray], size: int) -> tuple[int, int, int, int]:
    """(x, y, w, h) of the window where the codecs' LPIPS maps disagree most: max - min over codecs of the window mean."""
    maps = np.stack([lpips_map(original, r) for r in recs])
    h, w = min(size, maps.shape[1]), min(size, maps.shape[2])
    means = np.stack([_window_sums(m, h, w) for m in maps])
    return _best_window(means.max(0) - means.min(0), h, w, maps.shape[1:])


def parse_region(text: str, shape: tuple[int, int]) -> tuple[int, int, int, int]:
    m = re.fullmatch(r"\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*,\s*(\d+)\s*", text)
    if not m:
        raise BenchError(f"--panel-region must be auto, lpips or x,y,w,h in pixels, not {text!r}")
    x, y, w, h = (int(v) for v in m.groups())
    H, W = shape
    if w < 8 or h < 8 or x + w > W or y + h > H:
        raise BenchError(f"--panel-region {text}: outside the {W}x{H} picture or smaller than 8 px")
    return x, y, w, h


def choose_region(option: str, original: np.ndarray, recs: Sequence[np.ndarray], size: int) -> tuple[tuple[int, int, int, int], str]:
    size = max(8, int(size))
    if option == "auto" or (option == "lpips" and not recs):
        return region_where_tiles_differ(original, recs, size), ("auto: the window where the tiles differ most "
                                                                 "(largest mean variance across original and reconstructions)")
    if option == "lpips":
        try:
            return region_where_lpips_differs(original, recs, size), ("lpips: the window where the codecs' LPIPS maps "
                                                                      "differ most (max - min of the window mean)")
        except Exception as exc:  # no LPIPS weights here: say so, use the rule that needs none
            r = region_where_tiles_differ(original, recs, size)
            return r, f"auto (LPIPS maps unavailable: {type(exc).__name__}: {exc}"[:160] + ")"
    return parse_region(option, original.shape[:2]), "given by the user"


# ----------------------------------------------------------------------------------- drawing


def _fonts():
    from matplotlib import font_manager
    from PIL import ImageFont

    reg = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans"))
    bold = font_manager.findfont(font_manager.FontProperties(family="DejaVu Sans", weight="bold"))
    return {"text": ImageFont.truetype(reg, 14), "small": ImageFont.truetype(reg, 12),
            "bold": ImageFont.truetype(bold, 15), "head": ImageFont.truetype(bold, 17)}


def _wrap(draw, text: str, font, width: int) -> list[str]:
    """Greedy word wrap at ' · ' separators first, then spaces."""
    parts = text.split(" · ")
    lines, cur = [], ""
    for p in parts:
        cand = p if not cur else f"{cur} · {p}"
        if draw.textlength(cand, font=font) <= width:
            cur = cand
            continue
        if cur:
            lines.append(cur)
        cur = p
        while draw.textlength(cur, font=font) > width and " " in cur:  # a single part too long: break at spaces
            words, head = cur.split(" "), ""
            for i, wd in enumerate(words):
                if draw.textlength((head + " " + wd).strip(), font=font) > width and head:
                    lines.append(head)
                    cur = " ".join(words[i:])
                    break
                head = (head + " " + wd).strip()
            else:
                break
    if cur:
        lines.append(cur)
    return lines


def _short_label(col: str) -> str:
    """'LPIPS v0.1 (alex)' stays, 'VMAF (vmaf_v0.6.1, still picture)' becomes 'VMAF', 'MS-SSIM-RGB' + dB."""
    lab = M.label(col, unit=False)
    m = re.match(r"^(.*?) \(([^)]*)\)$", lab)
    if m and ("," in m[2] or len(m[2]) > 8):
        lab = m[1]
    return lab


def tile_metrics(row: dict, columns: Sequence[str]) -> list[str]:
    """'PSNR-RGB 33.10 dB', 'MS-SSIM-RGB 18.11 dB', 'LPIPS v0.1 (alex) 0.062↓', ... for the row's values."""
    out = []
    for c in columns:
        v = row.get(c)
        if v is None or not np.isfinite(float(v)):
            continue
        info = M.METRICS.get(c, {})
        unit = info.get("unit") or ""
        digits = 2 if unit == "dB" else (2 if abs(float(v)) >= 10 else 4 if abs(float(v)) < 1 else 3)
        arrow = "" if info.get("higher_is_better", True) else "↓"
        out.append(f"{_short_label(c)} {float(v):.{digits}f}{(' ' + unit) if unit else ''}{arrow}")
    return out


def panel_metric_columns(df: pd.DataFrame) -> list[str]:
    """PSNR-RGB, MS-SSIM in dB, then every structural and perceptual metric of the rows (dB forms)."""
    cols = [c for c in ("psnr_rgb", "ms_ssim_rgb_db") if c in df]
    for c in M.compared_columns():
        if c in df and c not in cols and pd.to_numeric(df[c], errors="coerce").notna().any():
            cols.append(c)
    return cols


def _error_image(err: np.ndarray, vmax: float) -> np.ndarray:
    from matplotlib import colormaps

    rgba = colormaps["inferno"](np.clip(err / vmax, 0, 1))
    return (rgba[..., :3] * 255 + 0.5).astype(np.uint8)


def _enlarge(a: np.ndarray, k: int) -> np.ndarray:
    return a if k == 1 else np.repeat(np.repeat(a, k, axis=0), k, axis=1)


def render(panel: Panel, original: np.ndarray, options: PanelOptions, metric_cols: Sequence[str], colours: dict,
           labels: dict[str, str]) -> bytes:
    """The panel as PNG bytes: a header (target, region rule, scales), then a grid of cells: the original
    crop with the whole picture beside it (the region outlined), then one cell per codec."""
    import io

    from PIL import Image, ImageDraw

    fonts = _fonts()
    x, y, w, h = panel.region
    zoom = options.zoom or max(1, round(288 / max(w, h)))
    tw, th = w * zoom, h * zoom
    content_w = tw * (2 if options.error_maps else 1) + (6 if options.error_maps else 0)  # tile (+ error map)
    cell_w = max(content_w, MIN_CELL)  # room for the labels
    cols = options.columns or (2 if options.error_maps else 4)
    pad, gap = 14, 18
    crop = lambda a: a[y:y + h, x:x + w]  # noqa: E731
    errs = {t.codec: np.abs(crop(t.rgb).astype(np.int16) - crop(original).astype(np.int16)).mean(-1)
            for t in panel.tiles if t.rgb is not None}
    pooled = np.concatenate([e.ravel() for e in errs.values()]) if errs else np.zeros(1)
    vmax = float(math.ceil(max(float(np.percentile(pooled, 99)), 1.0)))
    probe = ImageDraw.Draw(Image.new("RGB", (10, 10)))
    line_h = {id(fonts["bold"]): 19, id(fonts["text"]): 17, id(fonts["small"]): 16, id(fonts["head"]): 21}

    def wrapped(lines, width):
        return [(ln, font, colour) for text, font, colour in lines for ln in _wrap(probe, text, font, width)]

    # --- the cells: (kind, tile or None, caption lines)
    H, W = original.shape[:2]
    cells = [("original", None, [("original", fonts["bold"], "#111"),
                                 (f"{W}x{H} px, 8-bit RGB · region outlined " + ("at right" if options.error_maps else "in the next tile"),
                                  fonts["text"], "#333")])]
    if not options.error_maps:
        cells.append(("context", None, [("where the region is", fonts["text"], "#333")]))
    for t in panel.tiles:
        row, colour = t.row, colours.get(t.codec, "#333")
        bpp = float(row["bpp"])
        off = bpp / panel.target_bpp - 1
        vs = "the target" if off == 0 else f"{off:+.0%} vs target"
        far = abs(off) > RATE_MISMATCH
        lines = [(labels.get(t.codec, t.codec), fonts["bold"], colour),
                 (f"{row.get('point_name') or 'point'}={fmt_point(row.get('point'))} · {bpp:.3f} bpp ({vs})" + (" !" if far else ""),
                  fonts["text"], "#b00000" if far else "#222"),
                 (" · ".join(tile_metrics(row, metric_cols)), fonts["text"], "#222")]
        if t.rgb is not None:
            lines.append((f"crop PSNR-RGB {_psnr(crop(original), crop(t.rgb)):.2f} dB", fonts["small"], "#666"))
        cells.append(("codec", t, lines))
    cells = [(kind, t, wrapped(lines, cell_w)) for kind, t, lines in cells]
    cap_h = 8 + max(sum(line_h[id(f)] for _, f, _ in lines) for _, _, lines in cells)

    head_lines = [(f"{panel.dataset} / {panel.image}: reconstructions at matched rate, {panel.target_bpp:.3f} bpp", fonts["head"], "#111"),
                  (f"target: {panel.target_from}; every codec at its point nearest the target in log(bpp)", fonts["text"], "#444"),
                  (f"region x={x}, y={y}, {w}x{h} px, {panel.region_rule}; tiles enlarged {zoom}x, nearest neighbour",
                   fonts["text"], "#444"),
                  ("numbers: whole-image values of each row (↓ lower is better); crop PSNR-RGB: this region only",
                   fonts["text"], "#444")]
    if options.error_maps:
        head_lines.append((f"error maps: mean |RGB difference| to the original, linear from 0 (black) to {vmax:g} levels or more "
                           "(white; the 99th percentile of every tile's errors together), one scale for every tile", fonts["text"], "#444"))
    n_rows = math.ceil(len(cells) / cols)
    width = pad * 2 + cols * cell_w + (cols - 1) * gap
    head = wrapped(head_lines, width - 2 * pad)
    head_h = 4 + sum(line_h[id(f)] + 3 for _, f, _ in head) + (24 if options.error_maps else 0) + 12
    height = pad + head_h + n_rows * (th + cap_h + gap) + pad
    img = Image.new("RGB", (width, height), "white")
    d = ImageDraw.Draw(img)
    ty = pad
    for ln, font, colour in head:
        d.text((pad, ty), ln, fill=colour, font=font)
        ty += line_h[id(font)] + 3
    if options.error_maps:  # the colour scale
        bar = _error_image(np.tile(np.linspace(0, vmax, 256), (12, 1)), vmax)
        img.paste(Image.fromarray(bar), (pad + 60, ty + 5))
        d.text((pad, ty + 2), "error 0", fill="#444", font=fonts["small"])
        d.text((pad + 60 + 262, ty + 2), f"{vmax:g} levels", fill="#444", font=fonts["small"])
    top = pad + head_h

    def context(cx, cy, bw, bh):
        """The whole picture, fitted into bw x bh, with the region outlined."""
        s = min(bw / W, bh / H)
        thumb = Image.fromarray(original).resize((max(1, round(W * s)), max(1, round(H * s))), Image.LANCZOS)
        img.paste(thumb, (cx, cy))
        r = [cx + x * s, cy + y * s, cx + (x + w) * s, cy + (y + h) * s]
        d.rectangle([r[0] - 2, r[1] - 2, r[2] + 2, r[3] + 2], outline="black", width=1)
        d.rectangle([r[0] - 1, r[1] - 1, r[2] + 1, r[3] + 1], outline="#ffdd00", width=2)

    for k, (kind, t, lines) in enumerate(cells):
        r, c = divmod(k, cols)
        cx, cy = pad + c * (cell_w + gap), top + r * (th + cap_h + gap)
        panel.boxes[t.codec if kind == "codec" else kind] = (cx, cy, tw, th)
        if kind == "original":
            img.paste(Image.fromarray(_enlarge(crop(original), zoom)), (cx, cy))
            if options.error_maps:
                context(cx + tw + 6, cy, tw, th)
        elif kind == "context":
            context(cx, cy, tw, th)
        elif t.rgb is None:
            d.rectangle([cx, cy, cx + content_w - 1, cy + th - 1], fill="#eeeeee", outline="#bbbbbb")
            for j, ln in enumerate(_wrap(d, "no picture: " + t.missing, fonts["small"], content_w - 16)[: max(1, (th - 16) // 15)]):
                d.text((cx + 8, cy + 8 + 15 * j), ln, fill="#aa0000", font=fonts["small"])
        else:
            img.paste(Image.fromarray(_enlarge(crop(t.rgb), zoom)), (cx, cy))
            if options.error_maps:
                img.paste(Image.fromarray(_enlarge(_error_image(errs[t.codec], vmax), zoom)), (cx + tw + 6, cy))
        if kind == "codec":  # the codec's colour, as in the RD plots
            d.rectangle([cx, cy - 4, cx + content_w - 1, cy - 1], fill=colours.get(t.codec, "#333"))
        yy = cy + th + 6
        for ln, font, colour in lines:
            d.text((cx, yy), ln, fill=colour, font=font)
            yy += line_h[id(font)]
    buf = io.BytesIO()
    img.save(buf, format="PNG", compress_level=6)
    return buf.getvalue()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(M.psnr(np.ascontiguousarray(a), np.ascontiguousarray(b)))


# ----------------------------------------------------------------------------------- the panels


def safe_name(image: str) -> str:
    """A file name for an image id (ids may hold folders: 'sub/dir/img')."""
    return re.sub(r"[^A-Za-z0-9._-]+", "_", image).strip("_") or "image"


def codec_labels(df: pd.DataFrame) -> dict[str, str]:
    out = {}
    for codec, g in df.groupby("codec"):
        lab = g["codec_label"].dropna() if "codec_label" in g else pd.Series(dtype=object)
        out[codec] = str(lab.iloc[0]) if len(lab) else str(codec)
    return out


def make_panels(df: pd.DataFrame, sweep_dir: Path, out_dir: Path, *, anchor: str | None = None,
                options: PanelOptions | None = None, originals: Originals | None = None, log=None) -> list[Panel]:
    """Every panel of the sweep (one per image and target), written as PNG files into out_dir."""
    options = options or PanelOptions()
    sweep_dir, out_dir = Path(sweep_dir), Path(out_dir)
    ok = df[df["status"] == "ok"] if "status" in df else df
    if ok.empty:
        return []
    codecs_ = [c for c in (options.codecs or sorted(ok["codec"].unique())) if (ok["codec"] == c).any()]
    if options.codecs:
        unknown = [c for c in options.codecs if c not in set(ok["codec"])]
        if unknown:
            raise BenchError(f"--panel-codecs: {', '.join(unknown)} not in the sweep ({', '.join(sorted(ok['codec'].unique()))})")
    ref, ref_point = _parse_match(options.match, codecs_)
    if ref is None:
        learned = [c for c in learned_codecs(ok) if c in codecs_]
        ref = learned[0] if learned else (anchor if anchor in codecs_ else codecs_[0])
    images = list(dict.fromkeys(ok.sort_values(["dataset", "image"])[["dataset", "image"]].itertuples(index=False, name=None)))
    if options.images:
        wanted = set(options.images)
        missing = wanted - {i for _, i in images}
        if missing:
            raise BenchError(f"--panel-images: {', '.join(sorted(missing))} not in the sweep")
        images = [(d, i) for d, i in images if i in wanted]
    originals = originals or Originals(sweep_dir)
    colours = {c: s[0] for c, s in styles(sorted(ok["codec"].unique())).items()}
    labels = codec_labels(ok)
    metric_cols = panel_metric_columns(ok)
    targets = list(options.target_bpp) or [None]
    out: list[Panel] = []
    for dataset, image in images:
        img_rows = ok[(ok["dataset"] == dataset) & (ok["image"] == image)]
        sha = str(img_rows["image_sha256"].iloc[0]) if "image_sha256" in img_rows else ""
        original = originals.rgb(dataset, image, sha)
        for k, target in enumerate(targets):
            tb, how, rows = matched_rows(img_rows, codecs_, target=target, reference=ref, ref_point=ref_point)
            notes = []
            if isinstance(original, Missing):
                out.append(Panel(dataset, image, tb, how, (0, 0, 0, 0), "", [Tile(c, r, None, missing=original.reason)
                                                                                for c, r in rows.items()], None, [original.reason]))
                continue
            tiles = []
            for c, r in rows.items():
                rec = reconstruction(r, sweep_dir, original)
                tiles.append(Tile(c, r, None, missing=rec.reason) if isinstance(rec, Missing) else Tile(c, r, rec.rgb, rec.source))
                if isinstance(rec, Missing):
                    notes.append(f"{c}: {rec.reason}")
            recs = [t.rgb for t in tiles if t.rgb is not None]
            region, rule = choose_region(options.region, original, recs, options.crop)
            panel = Panel(dataset, image, tb, how, region, rule, tiles, notes=notes)
            stem = safe_name(image) + (f"_panel{k + 1}" if len(targets) > 1 else "_panel")
            panel.path = out_dir / f"{stem}.png"
            atomic_write_bytes(panel.path, render(panel, original, options, metric_cols, colours, labels))
            if log:
                log(f"[bench] panel {image}: {panel.path}")
            out.append(panel)
    return out
