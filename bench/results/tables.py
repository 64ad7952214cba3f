"""Tables derived from the rows: the frame of current rows, the dataset means, and the files
`results.parquet`, `results.csv`, `codecs.csv`, `provenance.csv` and `summary.csv` of a sweep folder.

Superseded rows: when a codec's configuration changes (new parameters, weights or encoder version: a
new codec_hash), its older rows stay on disk as a cache, but per (dataset, image, codec, point) only
the newest row is current.

Built column-wise with pyarrow: the loose row files are typed like a shard (`bench.results.shards`),
concatenated with the shards, de-duplicated and sorted as Arrow tables, and written by Arrow's Parquet
and CSV writers (a million rows: a few seconds; the former pandas path from row dicts took about 75 s).
Provenance is joined back from the records the rows reference: as dictionary-encoded columns in the
frame and in results.parquet (one copy of each record, so a copied results.parquet stands alone), and
as one line per record in provenance.csv (results.csv keeps the `provenance` id).
"""

from __future__ import annotations

import io
import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pandas as pd

from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes
from bench.metrics import METRICS, register_from_rows
from bench.results import shards
from bench.results.store import KEY_COLUMNS, PROVENANCE_COLUMNS, TABLE_FILES, RowStore

# In results.parquet and the frame, not in results.csv: per-unit command lines and decoder metadata (in
# results.parquet and the rows), and what codecs.csv holds once per codec configuration (codec_hash).
CSV_DETAIL = ["encode_command", "decode_command", "decode_meta", "point_files"]
CODEC_COLUMNS = ["codec_hash", "codec", "codec_label", "adapter", "point_name", "encoder", "codec_params", "codec_files",
                 "colour_matrix", "colour_range", "colour_chroma", "colour_bit_depth", "colour_siting"]
_PROVENANCE_META = b"lic_bench.provenance"


# ----------------------------------------------------------------------------- Arrow: current rows


def _dedup_keys(table):
    """Keep the first row of each key (the tables come newest first)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0 or "key" not in table.column_names:
        return table
    keys = table.column("key")
    if pc.count_distinct(keys).as_py() == table.num_rows:
        return table
    first = pd.Series(keys.to_numpy(zero_copy_only=False)).duplicated(keep="first").to_numpy()
    return table.filter(pa.array(~first))


def _reorder(table, order):
    """table rows in `order` (numpy indices).  Shards are written sorted and a job's rows are
    contiguous, so the order is mostly long runs of consecutive rows: those are zero-copy slices;
    a fragmented order falls back to a gather (Arrow's take)."""
    import numpy as np
    import pyarrow as pa

    n = len(order)
    if n == table.num_rows and (n == 0 or (order[0] == 0 and bool(np.all(np.diff(order) == 1)))):
        return table
    starts = np.concatenate([[0], np.flatnonzero(np.diff(order) != 1) + 1])
    if len(starts) > max(256, n // 64):
        return table.take(pa.array(order))
    ends = np.append(starts[1:], n)
    return pa.concat_tables([table.slice(int(order[a]), int(b - a)) for a, b in zip(starts, ends)])


def _sort_and_supersede(table, superseded: bool):
    """Newest row per (dataset, image, codec, point) unless superseded=True; sorted by codec, image,
    point (stable)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.compute as pc

    if table.num_rows == 0:
        return table
    have = [c for c in KEY_COLUMNS if c in table.column_names]
    if not superseded and "timestamp" in table.column_names and len(have) == len(KEY_COLUMNS):
        keys = table.select(KEY_COLUMNS).to_pandas()
        if keys.duplicated().any():  # some rows are superseded: keep the newest of each
            keys["timestamp"] = table.column("timestamp").to_pandas()
            keys = keys.sort_values("timestamp", kind="stable").drop_duplicates(KEY_COLUMNS, keep="last")
            idx = np.sort(keys.index.to_numpy())
            table = table.take(pa.array(idx))
    order_cols = [c for c in ("codec", "image", "point") if c in table.column_names]
    if order_cols:
        # Arrow's sort_indices is stable; nulls last (as pandas)
        order = pc.sort_indices(table.select(order_cols), sort_keys=[(c, "ascending") for c in order_cols]).to_numpy()
        table = _reorder(table, order)
    return table


def _join_provenance(table, records: dict[str, dict]):
    """Add PROVENANCE_COLUMNS from the records the `provenance` ids point to (dictionary-encoded: one
    copy per record); rows that carry them inline (written before provenance records) keep theirs."""
    import pyarrow as pa
    import pyarrow.compute as pc

    if "provenance" not in table.column_names or table.num_rows == 0:
        return table
    ids = sorted(records)
    idx = pc.index_in(table.column("provenance").cast(pa.string()), value_set=pa.array(ids, pa.string()))
    idx = idx.combine_chunks() if hasattr(idx, "combine_chunks") else idx
    for col in PROVENANCE_COLUMNS:
        per_id = [None if records[i].get(col) is None else str(records[i][col]) for i in ids]
        values = sorted({v for v in per_id if v is not None})  # a dictionary holds each value once
        where = pa.array([None if v is None else values.index(v) for v in per_id], pa.int32())
        joined = pa.DictionaryArray.from_arrays(pc.take(where, idx), pa.array(values, pa.string()))
        if col in table.column_names:
            inline = table.column(col).cast(pa.string())
            if inline.null_count < len(inline):
                table = table.set_column(table.column_names.index(col), col,
                                         pc.coalesce(inline, joined.cast(pa.string())))
                continue
            table = table.drop_columns([col])
        table = table.append_column(col, joined)
    return table


def current_table(store: RowStore, superseded: bool = False):
    """(Arrow table of the current rows with provenance joined, its JSON-text columns)."""
    loose, shard_files = store.snapshot()
    tables = [shards.read_shard(p) for p in reversed(shard_files)]  # newest shard first
    if loose:
        tables.insert(0, shards.table_of(loose))  # loose files are newer than any shard
    table, json_cols = shards.concat(tables)
    table = _sort_and_supersede(_dedup_keys(table), superseded)
    return _join_provenance(table, store.provenance()), json_cols


def _to_frame(table, json_cols) -> pd.DataFrame:
    import pyarrow as pa

    df = table.to_pandas()
    for col in json_cols:
        df[col] = df[col].map(lambda v: json.loads(v) if isinstance(v, str) else v)
    for col, typ in zip(table.column_names, table.schema.types):
        if pa.types.is_dictionary(typ):  # the joined provenance: plain strings, as the rows had them
            df[col] = df[col].astype(object).where(df[col].notna(), None)
    return df


def _finish(df: pd.DataFrame) -> pd.DataFrame:
    if df.empty:
        return df
    if "metric_names" in df:
        register_from_rows(df["metric_names"].dropna().unique())  # plugin metrics' declarations
    for col in list(METRICS) + ["bpp"]:
        if col in df:
            df[col] = pd.to_numeric(df[col], errors="coerce")
    return df.reset_index(drop=True)


def frame_of(rows: list[dict], superseded: bool = False) -> pd.DataFrame:
    """The table of rows: numeric metric columns, newest row per (dataset, image, codec, point) unless
    superseded=True, sorted by codec, image, point."""
    if not rows:
        return pd.DataFrame()
    table, json_cols = shards.concat([shards.table_of(rows)])
    return _finish(_to_frame(_sort_and_supersede(table, superseded), json_cols))


def frame(store: RowStore, superseded: bool = False) -> pd.DataFrame:
    """The current rows of a sweep (row files and shards), provenance joined back."""
    table, json_cols = current_table(store, superseded)
    if table.num_rows == 0:
        return pd.DataFrame()
    return _finish(_to_frame(table, json_cols))


def load_rows(sweep_dir: str | Path) -> pd.DataFrame:
    """A sweep's rows: from its row files, else from its results.parquet (a copied results folder)."""
    store = RowStore(sweep_dir)
    if store.rows_dir.is_dir():
        return frame(store)
    parquet = Path(sweep_dir) / TABLE_FILES["parquet"]
    if parquet.is_file():
        import pyarrow.parquet as pq

        table = pq.read_table(parquet)
        return _finish(_to_frame(table, shards.json_columns(table)))
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


def _csv_bytes(table) -> bytes:
    import pyarrow.csv as pacsv

    buf = io.BytesIO()
    pacsv.write_csv(table, buf, pacsv.WriteOptions(quoting_style="needed"))
    return buf.getvalue()


def write_tables(store: RowStore, df: pd.DataFrame | None = None) -> dict[str, Path]:
    """Rebuild results.parquet (every current row, every column, provenance joined), results.csv (the
    same rows without the columns of CSV_DETAIL, with the ids of provenance.csv and codecs.csv instead
    of their columns), provenance.csv (one line per record), codecs.csv (one line per codec
    configuration) and summary.csv (explicit means).  Each file is written whole under a unique temp
    name and renamed: two jobs rebuilding the same folder at once both leave readable files.  `df`,
    when given, is written instead of the store's rows."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    if df is None:
        table, json_cols = current_table(store)
        if table.num_rows == 0:
            return {}
        metric_cols = [c for c in ["status", "dataset", "codec", "point", "bpp", "metric_names", *METRICS]
                       if c in table.column_names]
        means_of = _finish(_to_frame(table.select(metric_cols), [c for c in json_cols if c in metric_cols]))
    else:
        if df.empty:
            return {}
        (table, json_cols), means_of = _arrow_of_frame(df), df
    paths = {k: store.dir / v for k, v in TABLE_FILES.items()}
    records = store.provenance()
    table = table.replace_schema_metadata({shards.JSON_META: json.dumps(json_cols).encode(),
                                           _PROVENANCE_META: json.dumps(records, sort_keys=True).encode()})
    has_id = "provenance" in table.column_names
    codec_cols = [c for c in CODEC_COLUMNS if c in table.column_names]
    per_codec = "codec_hash" in codec_cols
    drop = [c for c in PROVENANCE_COLUMNS if has_id and c in table.column_names]
    drop += [c for c in CSV_DETAIL if c in table.column_names]
    drop += [c for c in codec_cols if per_codec and c not in ("codec_hash", "codec")]

    def parquet_bytes() -> bytes:
        buf = io.BytesIO()
        pq.write_table(table, buf, compression="zstd")
        return buf.getvalue()

    # Arrow's writers release the GIL: the two large files are encoded and written side by side
    with ThreadPoolExecutor(2) as pool:
        jobs = [pool.submit(lambda: atomic_write_bytes(paths["parquet"], parquet_bytes())),
                pool.submit(lambda: atomic_write_bytes(paths["csv"], _csv_bytes(_csv_safe(table.drop_columns(drop)))))]
        for job in jobs:
            job.result()
    prov = pa.table({"provenance": list(records), **{c: [None if r.get(c) is None else str(r.get(c)) for r in records.values()]
                                                     for c in PROVENANCE_COLUMNS}})
    atomic_write_bytes(paths["provenance"], _csv_bytes(prov))
    if per_codec:
        first = pd.Series(table.column("codec_hash").to_numpy(zero_copy_only=False)).drop_duplicates().index.to_numpy()
        codecs = _csv_safe(table.select(codec_cols).take(pa.array(first))).to_pandas().sort_values(["codec", "codec_hash"])
        atomic_write_bytes(paths["codecs"], codecs.to_csv(index=False).encode())
    else:
        paths.pop("codecs")
    atomic_write_bytes(paths["summary"], summarize(means_of).to_csv(index=False).encode())
    return paths


def _csv_safe(table):
    """CSV has no dictionary or nested types: dictionary columns are written as their values."""
    import pyarrow as pa

    for i, typ in enumerate(table.schema.types):
        if pa.types.is_dictionary(typ):
            table = table.set_column(i, table.column_names[i], table.column(i).cast(typ.value_type))
    return table


def _arrow_of_frame(df: pd.DataFrame):
    """(A pandas frame as an Arrow table, its JSON-text columns); object columns typed the way shards
    type them (inf/nan strings in number columns become floats, mixed values JSON text)."""
    import pyarrow as pa

    arrays, names, json_cols = [], [], []
    for col in df.columns:
        s = df[col]
        if s.dtype == object:
            arr, is_json = shards._column([None if (v is None or (isinstance(v, float) and math.isnan(v))) else v for v in s])
            if arr.type == pa.null():
                arr = pa.nulls(len(s), pa.string())
            if is_json:
                json_cols.append(str(col))
        else:
            arr = pa.Array.from_pandas(s)
        arrays.append(arr)
        names.append(str(col))
    return pa.Table.from_arrays(arrays, names=names), json_cols
