"""The results store: one JSON file per finished unit, and tables derived from them.

Why one file per row: a row is written once, atomically (temp file + rename), by whichever worker or
cluster job computed it, with no lock and no shared file to corrupt.  A SIGKILL loses only the units
in flight; a rerun finds every finished row by its key and skips it.  `results.parquet` and
`results.csv` are rebuilt from the row files at the end of each job and can always be rebuilt again
(`python -m bench.table results/<sweep>`).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Any, Iterable

import pandas as pd

from bench.errors import BenchError
from bench.metrics import METRICS

KEY_COLUMNS = ["dataset", "image", "codec", "point"]


def unit_key(image_sha256: str, codec_hash: str, point: Any) -> str:
    """The identity of a unit: picture content + codec configuration (with encoder version) + point."""
    return hashlib.sha256(f"{image_sha256}:{codec_hash}:{json.dumps(point)}".encode()).hexdigest()[:24]


def config_hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


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


def _json_safe(value):
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return str(value)  # "inf" / "nan": JSON has no literal for them
    return value


class RowStore:
    def __init__(self, sweep_dir: str | Path):
        self.dir = Path(sweep_dir)
        self.rows_dir = self.dir / "rows"

    def require(self) -> "RowStore":
        """This store, or one BenchError line when the folder holds no sweep (for the command tools)."""
        if not self.rows_dir.is_dir():
            raise BenchError(f"{self.rows_dir} does not exist: not a sweep folder")
        return self

    def path(self, key: str) -> Path:
        return self.rows_dir / f"{key}.json"

    def read(self, key: str) -> dict | None:
        """The stored row, or None when there is none (or it cannot be read)."""
        p = self.path(key)
        if not p.is_file():
            return None
        try:
            return json.loads(p.read_text())
        except (OSError, ValueError):
            return None  # an unreadable row is recomputed

    def done(self, key: str, required: Iterable[str] = ()) -> bool:
        """A finished row exists and holds every `required` column (the chosen metrics).  Failed rows
        do not count: a rerun tries them again; nor do rows lacking a requested metric."""
        row = self.read(key)
        return bool(row) and row.get("status") == "ok" and all(c in row for c in required)

    def write(self, row: dict) -> None:
        data = json.dumps({k: _json_safe(v) for k, v in row.items()}, indent=1, default=str)
        atomic_write_bytes(self.path(row["key"]), data.encode())

    def rows(self) -> list[dict]:
        out = []
        for p in sorted(self.rows_dir.glob("*.json")):
            try:
                out.append(json.loads(p.read_text()))
            except (OSError, ValueError):
                continue
        return out

    def frame(self, superseded: bool = False) -> pd.DataFrame:
        """Every current row.  When a codec's configuration changed (new parameters, weights or
        encoder version: a new codec_hash), its older rows stay on disk as a cache but are
        superseded: per (dataset, image, codec, point) only the newest row is current.  Pass
        superseded=True to get them all."""
        df = pd.DataFrame(self.rows())
        if df.empty:
            return df
        for col in df.columns:
            if df[col].dtype == object:
                df[col] = _restore_non_finite(df[col])
        for col in list(METRICS) + ["bpp"]:
            if col in df:
                df[col] = pd.to_numeric(df[col], errors="coerce")
        if not superseded and "timestamp" in df:
            df = df.sort_values("timestamp", kind="stable").drop_duplicates(KEY_COLUMNS, keep="last")
        return df.sort_values(["codec", "image", "point"], kind="stable").reset_index(drop=True)

    def write_tables(self) -> dict[str, Path]:
        """Rebuild results.parquet / results.csv (every row) and summary.csv (explicit means)."""
        df = self.frame()
        paths = {"parquet": self.dir / "results.parquet", "csv": self.dir / "results.csv", "summary": self.dir / "summary.csv"}
        if df.empty:
            return {}
        tmp = paths["parquet"].with_suffix(".parquet.tmp")
        df.to_parquet(tmp, index=False)
        os.replace(tmp, paths["parquet"])
        atomic_write_bytes(paths["csv"], df.to_csv(index=False).encode())
        atomic_write_bytes(paths["summary"], summarize(df).to_csv(index=False).encode())
        return paths


def summarize(df: pd.DataFrame) -> pd.DataFrame:
    """Dataset-averaged RD points: the arithmetic mean over images of the per-image bpp and of each
    per-image metric (CompressAI's convention; PSNR is averaged in dB, MS-SSIM dB is the mean of
    per-image dB).  `n_images` says how many pictures each mean covers."""
    ok = df[df["status"] == "ok"]
    if ok.empty:
        return pd.DataFrame()
    cols = ["bpp"] + [m for m in METRICS if m in ok]
    g = ok.groupby(["dataset", "codec", "point"], sort=True)
    out = g[cols].mean().reset_index()
    out.insert(3, "n_images", g.size().values)
    out["aggregate"] = "mean of per-image values"
    return out
