"""The results store: one JSON file per finished unit.

Why one file per row: a row is written once, atomically (temp file + rename), by whichever worker or
cluster job computed it, with no lock and no shared file to corrupt.  A SIGKILL loses only the units
in flight; a rerun finds every finished row by its key and skips it.  The tables
(`bench.results.tables`) are derived from the row files and can always be rebuilt.

A row's key is its identity: dataset, picture name and content, codec configuration (adapter, its
revision, parameters, encoder version, the sha256 of its binaries and weights) and rate point.  Two
pictures with the same content in one dataset, or one picture in two datasets, are different rows.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path
from typing import Any, Iterable

from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes, require_writable

KEY_COLUMNS = ["dataset", "image", "codec", "point"]
STATUSES = ("ok", "failed")


def unit_key(dataset: str, image: str, image_sha256: str, codec_hash: str, point: Any, files_hash: str = "",
             input_policy: str = "") -> str:
    """The identity of a unit: where the picture sits (dataset, name) and what it is (content hash),
    the codec configuration (with encoder version and file hashes), the point's own files, the point,
    and, for a picture the input policy changes (bench.data.images.policy_token), the policy's revision."""
    parts = [dataset, image, image_sha256, codec_hash, point, files_hash] + ([input_policy] if input_policy else [])
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()[:24]


def _json_safe(value):
    if isinstance(value, float) and (math.isinf(value) or math.isnan(value)):
        return str(value)  # "inf" / "nan": JSON has no literal for them
    return value


def row_problem(row: Any, key: str | None = None) -> str | None:
    """Why a stored row cannot be trusted (None when it can): not a JSON object, another key, an unknown
    status, an ok row without its measured size."""
    if not isinstance(row, dict):
        return f"not a JSON object ({type(row).__name__})"
    if key is not None and row.get("key") != key:
        return f"its key {row.get('key')!r} is not its file name {key!r}"
    if row.get("status") not in STATUSES:
        return f"status {row.get('status')!r} is not one of {STATUSES}"
    for col in KEY_COLUMNS:
        if col not in row:
            return f"no {col!r}"
    if row["status"] == "ok":
        try:
            nbytes, bpp = int(row["bytes"]), float(row["bpp"])
        except (KeyError, TypeError, ValueError):
            return "an ok row without numeric 'bytes' and 'bpp'"
        if nbytes <= 0 or not math.isfinite(bpp) or bpp <= 0:
            return f"an ok row with bytes={row.get('bytes')!r}, bpp={row.get('bpp')!r}"
    return None


class RowStore:
    def __init__(self, sweep_dir: str | Path):
        self.dir = Path(sweep_dir)
        self.rows_dir = self.dir / "rows"

    def require(self) -> "RowStore":
        """This store, or one BenchError line when the folder holds no sweep (for the command tools)."""
        if not self.rows_dir.is_dir():
            raise BenchError(f"{self.rows_dir} does not exist: not a sweep folder")
        return self

    def writable(self) -> "RowStore":
        """This store, with its rows folder created, or one BenchError line when it cannot be written."""
        require_writable(self.rows_dir)
        return self

    def path(self, key: str) -> Path:
        return self.rows_dir / f"{key}.json"

    def read_checked(self, key: str) -> tuple[dict | None, str | None]:
        """(row, None) for a trustworthy stored row; (None, reason) for a file that is not one; (None, None)
        when there is no file."""
        p = self.path(key)
        if not p.is_file():
            return None, None
        try:
            row = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            return None, f"unreadable row file ({type(exc).__name__})"
        problem = row_problem(row, key)
        return (None, problem) if problem else (row, None)

    def read(self, key: str) -> dict | None:
        """The stored row, or None when there is none or it cannot be trusted (it is then recomputed)."""
        return self.read_checked(key)[0]

    def done(self, key: str, required: Iterable[str] = ()) -> bool:
        """A finished row exists and holds every `required` column (the chosen metrics).  Failed rows
        do not count: a rerun tries them again; nor do rows lacking a requested metric."""
        row = self.read(key)
        return bool(row) and row.get("status") == "ok" and all(c in row for c in required)

    def write(self, row: dict) -> None:
        data = json.dumps({k: _json_safe(v) for k, v in row.items()}, indent=1, default=str)
        atomic_write_bytes(self.path(row["key"]), data.encode())

    def rows(self) -> list[dict]:
        """Every trustworthy row on disk (files that are not rows are left out; `invalid()` lists them)."""
        out = []
        for p in sorted(self.rows_dir.glob("*.json")):
            try:
                row = json.loads(p.read_text())
            except (OSError, ValueError):
                continue
            if row_problem(row, p.stem) is None:
                out.append(row)
        return out

    def invalid(self) -> list[tuple[str, str]]:
        """(file name, reason) of every row file that is not a trustworthy row."""
        bad = []
        for p in sorted(self.rows_dir.glob("*.json")):
            try:
                problem = row_problem(json.loads(p.read_text()), p.stem)
            except (OSError, ValueError) as exc:
                problem = f"unreadable ({type(exc).__name__})"
            if problem:
                bad.append((p.name, problem))
        return bad
