"""Tables derived from the row files: the frame of current rows, the dataset means, and the files
`results.parquet`, `results.csv`, `summary.csv` of a sweep folder.

Superseded rows: when a codec's configuration changes (new parameters, weights or encoder version: a
new codec_hash), its older rows stay on disk as a cache, but per (dataset, image, codec, point) only
the newest row is current.
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import pandas as pd

from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes
from bench.metrics import METRICS, register_from_rows
from bench.results.store import KEY_COLUMNS, RowStore

TABLE_FILES = {"parquet": "results.parquet", "csv": "results.csv", "summary": "summary.csv"}


def _restore_non_finite(col: pd.Series) -> pd.Series:
    """Rows store inf/nan as the strings "inf"/"nan" (JSON has no literal): a column of numbers and
    such strings becomes float again; any other column is left alone."""
    special = col.isin(["inf", "-inf", "nan"])
    if not special.any():
        return col
    rest = col[~special & col.notna()]
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in rest):
        return pd.to_numeric(col.replace({"inf": math.inf, "-inf": -math.inf, "nan": math.nan}), errors="coerce")
    return col


def frame_of(rows: list[dict], superseded: bool = False) -> pd.DataFrame:
    """The table of rows: numeric metric columns, newest row per (dataset, image, codec, point) unless
    superseded=True, sorted by codec, image, point."""
    df = pd.DataFrame(rows)
    if df.empty:
        return df
    if "metric_names" in df:
        register_from_rows(df["metric_names"].dropna().unique())  # plugin metrics' declarations
    for col in df.columns:
        if df[col].dtype == object:
            df[col] = _restore_non_finite(df[col])
    for col in list(METRICS) + ["bpp"]:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    if not superseded and "timestamp" in df:
        df = df.sort_values("timestamp", kind="stable").drop_duplicates(KEY_COLUMNS, keep="last")
    return df.sort_values(["codec", "image", "point"], kind="stable").reset_index(drop=True)


def frame(store: RowStore, superseded: bool = False) -> pd.DataFrame:
    return frame_of(store.rows(), superseded)


def load_rows(sweep_dir: str | Path) -> pd.DataFrame:
    """A sweep's rows: from its row files, else from its results.parquet (a copied results folder)."""
    store = RowStore(sweep_dir)
    if store.rows_dir.is_dir():
        return frame(store)
    parquet = Path(sweep_dir) / TABLE_FILES["parquet"]
    if parquet.is_file():
        df = pd.read_parquet(parquet)
        if "metric_names" in df:
            register_from_rows(df["metric_names"].dropna().unique())
        return df
    raise BenchError(f"{sweep_dir}: no rows/ folder and no {TABLE_FILES['parquet']}: not a sweep folder")


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Dataset-averaged RD points: the arithmetic mean over images of the per-image bpp and of each
    per-image metric (CompressAI's convention; PSNR is averaged in dB, MS-SSIM dB is the mean of
    per-image dB).  `n_images` says how many pictures each mean covers: a metric that some of them
    lack (NaN with its reason in the rows' metric_note) has a NaN mean, never a mean over fewer."""
    ok = df[df["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame()
    cols = ["bpp"] + [m for m in METRICS if m in ok]
    g = ok.groupby(["dataset", "codec", "point"], sort=True)
    out = g[cols].mean(skipna=False).reset_index()
    out.insert(3, "n_images", g.size().values)
    out["aggregate"] = "mean of per-image values"
    return out


def write_tables(store: RowStore, df: pd.DataFrame | None = None) -> dict[str, Path]:
    """Rebuild results.parquet / results.csv (every current row) and summary.csv (explicit means).
    Each file is written whole under a unique temp name and renamed: two jobs rebuilding the same
    folder at once both leave readable files."""
    df = frame(store) if df is None else df
    if df.empty:
        return {}
    paths = {k: store.dir / v for k, v in TABLE_FILES.items()}
    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    atomic_write_bytes(paths["parquet"], buf.getvalue())
    atomic_write_bytes(paths["csv"], df.to_csv(index=False).encode())
    summary = summarize(df)
    atomic_write_bytes(paths["summary"], summary.to_csv(index=False).encode())
    return paths
