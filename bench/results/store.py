"""The results store: one JSON file per finished unit, folded into Parquet shards at scale.

Why one file per row: a row is written once, atomically (temp file + rename), by whichever worker or
cluster job computed it, with no lock and no shared file to corrupt.  A SIGKILL loses only the units
in flight; a rerun finds every finished row by its key and skips it.  The tables
(`bench.results.tables`) are derived from the rows and can always be rebuilt.

Why shards too: a million row files take over a minute to read.  When many loose row files have
accumulated (COMPACT_ROWS), `compact()` claims them (renamed into a private folder, so a row written
meanwhile is never lost), writes them as one immutable Parquet shard under rows/shards/
(`bench.results.shards`) and removes the claimed files.  Readers see loose files, claimed files of a
compaction in progress and shards, in that order of precedence, so every row stays visible at every
moment.  Small sweeps keep plain JSON files.

Provenance (code revision, package versions, host) is the same for every row of a job: it is stored
once per distinct record under provenance/<id>.json and rows hold its id (`provenance`); the tables
join it back.

A row's key is its identity: dataset, picture name and content, codec configuration (adapter, its
revision, parameters, encoder version, the sha256 of its binaries and weights) and rate point.  Two
pictures with the same content in one dataset, or one picture in two datasets, are different rows.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import secrets
import time
from pathlib import Path
from typing import Any, Iterable

from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes, require_writable
from bench.results import shards

KEY_COLUMNS = ["dataset", "image", "codec", "point"]
STATUSES = ("ok", "failed")
# provenance of the job that computed a row: stored once per record, referenced by the row's `provenance`
PROVENANCE_COLUMNS = ["git_revision", "bench_version", "packages", "host", "platform", "cpus"]
COMPACT_ROWS = int(os.environ.get("BENCH_COMPACT_ROWS", "2000"))  # loose row files that trigger compaction
CLAIM_PREFIX = ".compacting-"
# the tables derived from the rows (bench.results.tables writes them); here so that knowing their names
# costs no pandas import
TABLE_FILES = {"parquet": "results.parquet", "csv": "results.csv", "summary": "summary.csv", "provenance": "provenance.csv",
               "codecs": "codecs.csv"}
STALE_CLAIM_S = 600  # a compaction folder this old belongs to a compaction that died: adopt its files


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


def provenance_id(record: dict) -> str:
    return hashlib.sha256(json.dumps(record, sort_keys=True).encode()).hexdigest()[:16]


class RowStore:
    def __init__(self, sweep_dir: str | Path):
        self.dir = Path(sweep_dir)
        self.rows_dir = self.dir / "rows"
        self._index: dict[str, tuple[Path, int]] | None = None  # key -> (shard, row) of the newest shard row
        self._shard_cache: tuple[Path, Any] | None = None  # one shard's table, for reads by key
        self._status: dict[tuple, dict] = {}  # required columns -> {key: done?} over the shards
        self._claims: list[Path] | None = None

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

    # ----------------------------------------------------------------------------- loose row files

    def _claim_dirs(self, fresh: bool = False) -> list[Path]:
        """Folders of compactions in progress (or dead).  Listed once per store object (a lookup per key
        must not scan a folder of thousands of files); a compaction that starts later only makes a row
        look absent to this object, and it is computed again, never lost."""
        if self._claims is None or fresh:
            self._claims = [] if not self.rows_dir.is_dir() else sorted(
                self.rows_dir / e.name for e in os.scandir(self.rows_dir) if e.name.startswith(CLAIM_PREFIX) and e.is_dir())
        return self._claims

    def loose_files(self) -> list[Path]:
        """Row files not yet in a shard: rows/*.json, then those claimed by a compaction in progress
        (or one that died) - the first of a key wins."""
        out = []
        if self.rows_dir.is_dir():
            out = sorted(self.rows_dir / e.name for e in os.scandir(self.rows_dir)
                         if e.name.endswith(".json") and not e.name.startswith(".") and e.is_file())
        for d in self._claim_dirs(fresh=True):
            try:
                out += sorted(d / e.name for e in os.scandir(d) if e.name.endswith(".json"))
            except FileNotFoundError:  # that compaction just finished: its rows are in its shard
                continue
        return out

    @staticmethod
    def _load(p: Path) -> tuple[dict | None, str | None]:
        try:
            row = json.loads(p.read_text())
        except (OSError, ValueError) as exc:
            return None, f"unreadable row file ({type(exc).__name__})"
        problem = row_problem(row, p.stem)
        return (None, problem) if problem else (row, None)

    # ------------------------------------------------------------------------------------ shards

    def shard_files(self) -> list[Path]:
        return shards.list_shards(self.rows_dir)

    def _shard_index(self) -> dict[str, tuple[Path, int]]:
        if self._index is None:
            index: dict[str, tuple[Path, int]] = {}
            for path in self.shard_files():  # oldest first: a later shard overrides
                keys = shards.read_shard(path, ["key"]).column("key").to_pylist()
                index.update((k, (path, i)) for i, k in enumerate(keys))
            self._index = index
        return self._index

    def _shard_row(self, key: str) -> dict | None:
        hit = self._shard_index().get(key)
        if hit is None:
            return None
        path, i = hit
        if self._shard_cache is None or self._shard_cache[0] != path:
            self._shard_cache = (path, shards.read_shard(path))
        table = self._shard_cache[1]
        row = {k: v for k, v in table.slice(i, 1).to_pylist()[0].items() if v is not None}
        for c in shards.json_columns(table):
            if c in row:
                row[c] = json.loads(row[c])
        return row

    def _shard_done(self, key: str, required: tuple) -> bool | None:
        """Whether the shards' row of `key` is finished (ok, with every required column); None when
        no shard holds the key.  One projected read of the shards per set of required columns."""
        if required not in self._status:
            status: dict[str, bool] = {}
            for path in self.shard_files():
                t = shards.read_shard(path, ["key", "status", *required])
                ok = [s == "ok" for s in t.column("status").to_pylist()]
                for c in required:
                    if c not in t.column_names:
                        ok = [False] * len(ok)
                    else:
                        ok = [a and v is not None for a, v in zip(ok, t.column(c).to_pylist())]
                status.update(zip(t.column("key").to_pylist(), ok))
            self._status[required] = status
        return self._status[required].get(key)

    # ------------------------------------------------------------------------------------- reads

    def read_checked(self, key: str) -> tuple[dict | None, str | None]:
        """(row, None) for a trustworthy stored row; (None, reason) for a file that is not one; (None, None)
        when there is no row of that key."""
        for p in [self.path(key), *(d / f"{key}.json" for d in self._claim_dirs())]:
            if p.is_file():
                return self._load(p)
        row = self._shard_row(key)
        return (row, None) if row is not None else (None, None)

    def read(self, key: str) -> dict | None:
        """The stored row, or None when there is none or it cannot be trusted (it is then recomputed)."""
        return self.read_checked(key)[0]

    def done(self, key: str, required: Iterable[str] = ()) -> bool:
        """A finished row exists and holds every `required` column (the chosen metrics).  Failed rows
        do not count: a rerun tries them again; nor do rows lacking a requested metric."""
        required = tuple(required)
        if self.path(key).is_file() or any((d / f"{key}.json").is_file() for d in self._claim_dirs()):
            row = self.read(key)
            return bool(row) and row.get("status") == "ok" and all(c in row for c in required)
        return bool(self._shard_done(key, required))

    def write(self, row: dict) -> None:
        data = json.dumps({k: _json_safe(v) for k, v in row.items()}, indent=1, default=str)
        atomic_write_bytes(self.path(row["key"]), data.encode())

    def rows(self) -> list[dict]:
        """Every trustworthy row, one per key (files that are not rows are left out; `invalid()` lists
        them).  For large sweeps `bench.results.tables.frame` reads the shards column-wise instead."""
        out: dict[str, dict] = {}
        for p in self.loose_files():
            if p.stem in out:
                continue
            row, _ = self._load(p)
            if row is not None:
                out[p.stem] = row
        for path in reversed(self.shard_files()):  # newest first
            table = shards.read_shard(path)
            js = shards.json_columns(table)
            for rec in table.to_pylist():
                if rec["key"] in out:
                    continue
                row = {k: v for k, v in rec.items() if v is not None}
                for c in js:
                    if c in row:
                        row[c] = json.loads(row[c])
                out[row["key"]] = row
        return [out[k] for k in sorted(out)]

    def loose_rows(self) -> list[dict]:
        """The trustworthy rows of the loose files, one per key."""
        return self.snapshot()[0]

    def snapshot(self, attempts: int = 20) -> tuple[list[dict], list[Path]]:
        """(rows of the loose files, one per key; the shard files) as one consistent view: when a file
        vanishes while it is read (a compaction claimed it) or a shard appears, everything is listed
        again, so a row moving from a file into a shard is seen in one place or the other."""
        for _ in range(attempts):
            before = self.shard_files()
            out: dict[str, dict] = {}
            vanished = False
            for p in self.loose_files():
                if p.stem in out:
                    continue
                if not p.is_file():
                    vanished = True
                    continue
                row, _ = self._load(p)
                if row is not None:
                    out[p.stem] = row
                elif not p.exists():
                    vanished = True
            after = self.shard_files()
            if not vanished and after == before:
                break
            time.sleep(0.1)
        return list(out.values()), after

    def invalid(self) -> list[tuple[str, str]]:
        """(file name, reason) of every row file that is not a trustworthy row."""
        bad = []
        for p in self.loose_files():
            _, problem = self._load(p)
            if problem:
                bad.append((p.name, problem))
        return bad

    # --------------------------------------------------------------------- compaction, identity

    def compact(self, min_rows: int | None = None) -> Path | None:
        """Fold the loose row files into one Parquet shard when there are at least `min_rows`
        (COMPACT_ROWS) of them; returns the shard written, if any.  Safe beside writers and readers:
        files are claimed by renaming them into a private folder first (a row written afterwards is a
        new loose file and wins), the shard is written whole and renamed, and only then are the claimed
        files removed.  Files that are not trustworthy rows stay loose (`invalid()` keeps listing them);
        a claim folder left by a compaction that died is adopted."""
        min_rows = COMPACT_ROWS if min_rows is None else min_rows
        if not self.rows_dir.is_dir():
            return None
        loose = [self.rows_dir / e.name for e in os.scandir(self.rows_dir)
                 if e.name.endswith(".json") and not e.name.startswith(".")]
        stale = [d for d in self._claim_dirs(fresh=True) if time.time() - d.stat().st_mtime > STALE_CLAIM_S]
        if len(loose) < max(1, min_rows) and not stale:
            return None
        claim = self.rows_dir / f"{CLAIM_PREFIX}{os.getpid()}-{secrets.token_hex(4)}"
        claim.mkdir()
        for d in stale:  # adopt: move its files into ours (a loose file of the same key is newer: keep that)
            for p in d.glob("*.json"):
                _move_if_absent(p, claim / p.name)
            _rmdir_quiet(d)
        for p in loose:
            try:
                os.rename(p, claim / p.name)
            except FileNotFoundError:  # removed or replaced meanwhile: nothing to claim
                continue
        rows, bad = [], []
        for p in sorted(claim.glob("*.json")):
            row, problem = self._load(p)
            (bad if problem else rows).append(p if problem else row)
        shard = shards.write_shard(self.rows_dir, rows) if rows else None
        for p in bad:  # back to where they were, unless a new row of that key was written meanwhile
            _move_if_absent(p, self.rows_dir / p.name)
        for p in claim.glob("*.json"):
            p.unlink()
        _rmdir_quiet(claim)
        self._index, self._shard_cache, self._status, self._claims = None, None, {}, None
        return shard

    def fingerprint(self) -> str:
        """Changes whenever a row is written, replaced, compacted or removed (names, sizes and
        modification times of the row files and shards); what the derived files were built from."""
        h = hashlib.sha256()
        for p in self.loose_files() + self.shard_files():
            try:
                st = p.stat()
            except FileNotFoundError:
                continue
            h.update(f"{p.relative_to(self.rows_dir)}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
        return h.hexdigest()[:24]

    # -------------------------------------------------------------------------------- provenance

    def write_provenance(self, record: dict) -> str:
        """Store a provenance record once (provenance/<id>.json); returns its id."""
        pid = provenance_id(record)
        path = self.dir / "provenance" / f"{pid}.json"
        if not path.is_file():
            atomic_write_bytes(path, json.dumps(record, indent=1, sort_keys=True).encode())
        return pid

    def provenance(self) -> dict[str, dict]:
        """id -> record of every provenance record of the sweep."""
        out = {}
        d = self.dir / "provenance"
        if d.is_dir():
            for p in sorted(d.glob("*.json")):
                try:
                    out[p.stem] = json.loads(p.read_text())
                except (OSError, ValueError):
                    continue
        return out


def _move_if_absent(src: Path, dest: Path) -> None:
    """Move src to dest unless dest exists (then src is dropped: dest is the newer row)."""
    try:
        os.link(src, dest)
    except FileExistsError:
        pass
    except OSError:  # no hard links on this file system: a plain rename (dest is checked first)
        if not dest.exists():
            os.replace(src, dest)
            return
    src.unlink(missing_ok=True)


def _rmdir_quiet(d: Path) -> None:
    try:
        d.rmdir()
    except OSError:
        pass
