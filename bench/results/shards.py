"""Parquet shards of the row store: many finished rows in one immutable, typed file.

Why shards beside the row files.  A unit still writes its row as one JSON file, atomically, lock-free,
from any worker or cluster host (`bench.results.store`).  At scale, one file per row is slow to read
(a million rows are a million opens: over a minute) and heavy for the file system.  Compaction folds
the loose row files into one Parquet shard: typed columns (inf and nan are floats again), every
per-job constant dictionary-encoded, a million rows in ~100 files read in about a second.  Why not an
embedded database: SQLite and DuckDB files must not be written by several hosts over NFS (their
locking is not reliable there; DuckDB allows one writing process at all), while a sweep's jobs and
workers write rows concurrently, possibly from a cluster; a shard is written whole under a temporary
name and renamed, like a row file, so no writer ever waits on a lock.

Precedence: a loose row file is newer than any shard (a shard only holds rows that were loose files
before), and among shards the later name wins (names start with a UTC time stamp).

Column types in a shard: bool, int64, float64 (numbers mixed with the strings "inf"/"-inf"/"nan" that
JSON rows use), string; anything else (dicts, lists, mixed types) is stored as JSON text and named in
the file's metadata, so reading gives back the values the row file held.  A value absent from a row
is null in the shard and absent again when read back.
"""

from __future__ import annotations

import io
import json
import math
import os
import secrets
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Sequence

from bench.core.files import atomic_write_bytes

SHARD_DIR = "shards"
JSON_META = b"lic_bench.json_columns"
_NONFINITE = {"inf": math.inf, "-inf": -math.inf, "nan": math.nan}


def _is_number(v) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _column(values: list):
    """(pyarrow array, stored as JSON text?) for one column of row values (None = absent)."""
    import pyarrow as pa

    present = [v for v in values if v is not None]
    if not present:
        return pa.nulls(len(values), pa.null()), False
    if all(isinstance(v, bool) for v in present):
        return pa.array(values, pa.bool_()), False
    if all(isinstance(v, int) and not isinstance(v, bool) for v in present) and all(-2**63 <= v < 2**63 for v in present):
        return pa.array(values, pa.int64()), False
    if all(_is_number(v) or (isinstance(v, str) and v in _NONFINITE) for v in present):
        return pa.array([_NONFINITE[v] if isinstance(v, str) else v for v in values], pa.float64()), False
    if all(isinstance(v, str) for v in present):
        return pa.array(values, pa.string()), False
    return pa.array([None if v is None else json.dumps(v, sort_keys=True, default=str) for v in values], pa.string()), True


def table_of(rows: Sequence[dict]):
    """The typed pyarrow Table of row dicts (columns in first-seen order)."""
    import pyarrow as pa

    names: dict[str, None] = {}
    for r in rows:
        names.update(dict.fromkeys(r))
    arrays, json_cols = [], []
    for name in names:
        arr, is_json = _column([r.get(name) for r in rows])
        arrays.append(arr)
        if is_json:
            json_cols.append(name)
    table = pa.Table.from_arrays(arrays, names=list(names))
    return table.replace_schema_metadata({JSON_META: json.dumps(json_cols).encode()})


def shard_dir(rows_dir: Path) -> Path:
    return Path(rows_dir) / SHARD_DIR


def new_shard_name() -> str:
    stamp = datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%S%fZ")
    return f"{stamp}-{os.getpid()}-{secrets.token_hex(4)}.parquet"


def write_shard(rows_dir: Path, rows: Sequence[dict], name: str | None = None) -> Path:
    """Write rows as one shard (whole, under a temporary name, then renamed); returns its path."""
    import pyarrow.parquet as pq

    path = shard_dir(rows_dir) / (name or new_shard_name())
    buf = io.BytesIO()
    table = table_of(rows)
    order = [c for c in ("codec", "image", "point") if c in table.column_names]
    if order:  # sorted as the tables are: reading them back is then mostly zero-copy slices
        table = table.sort_by([(c, "ascending") for c in order])
    pq.write_table(table, buf, compression="lz4")
    atomic_write_bytes(path, buf.getvalue())
    return path


def list_shards(rows_dir: Path) -> list[Path]:
    """Shard files, oldest first (their names start with a UTC time stamp)."""
    d = shard_dir(rows_dir)
    if not d.is_dir():
        return []
    return sorted((d / e.name for e in os.scandir(d) if e.name.endswith(".parquet") and not e.name.startswith(".")),
                  key=lambda p: p.name)


def json_columns(table) -> list[str]:
    meta = table.schema.metadata or {}
    return json.loads(meta.get(JSON_META, b"[]"))


def read_shard(path: Path, columns: Iterable[str] | None = None):
    """One shard as a pyarrow Table, only `columns` that it has (all when None)."""
    import pyarrow.parquet as pq

    if columns is None:
        return pq.read_table(path)
    have = set(pq.read_schema(path).names)
    return pq.read_table(path, columns=[c for c in columns if c in have])


def _json_text(table, name: str, is_json: bool):
    """A column as JSON text (for a column whose types differ between shards)."""
    import pyarrow as pa

    col = table.column(name)
    if is_json:
        return col.cast(pa.string())
    return pa.array([None if v is None else json.dumps(v, default=str) for v in col.to_pylist()], pa.string())


def concat(tables: list) -> tuple:
    """Tables with possibly different columns and types -> (one Table, its JSON-text columns).  Numbers
    unify to float64 when a column is int in one shard and float in another; incompatible types become
    JSON text."""
    import pyarrow as pa

    if not tables:
        return pa.table({}), []
    names: dict[str, None] = {}
    for t in tables:
        names.update(dict.fromkeys(t.column_names))
    json_cols = {n for t in tables for n in json_columns(t)}
    kinds: dict[str, set] = {n: set() for n in names}
    for t in tables:
        tj = set(json_columns(t))
        for f in t.schema:
            if not pa.types.is_null(f.type):
                kinds[f.name].add("json" if f.name in tj else f.type)
    target: dict[str, pa.DataType] = {}
    for n, k in kinds.items():
        if not k:
            target[n] = pa.null()
        elif len(k) == 1 and "json" not in k:
            target[n] = next(iter(k))
        elif k <= {pa.int64(), pa.float64()}:
            target[n] = pa.float64()
        else:
            target[n] = pa.string()
            json_cols.add(n)
    out = []
    for t in tables:
        cols = []
        tj = set(json_columns(t))
        for n in names:
            if n not in t.column_names:
                cols.append(pa.nulls(len(t), target[n]))
            elif n in json_cols and not pa.types.is_null(t.schema.field(n).type):
                cols.append(_json_text(t, n, n in tj))
            else:
                cols.append(t.column(n).cast(target[n]))
        out.append(pa.Table.from_arrays(cols, names=list(names)))
    return pa.concat_tables(out), sorted(json_cols)
