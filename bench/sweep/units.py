"""Units of a sweep job: (image, rate point) of one codec configuration on one dataset.

`plan` turns a job into the units still to compute (checking every point and the codec before any
runs); `run_unit` encodes, decodes from the file in a separate step, measures and writes one row;
`failed_row` writes the row of a unit that could not write its own (its worker hung or died).
The identity of a unit (`bench.results.store.unit_key`) holds the picture's dataset, name and
content, and the codec configuration's hash: adapter, revision, parameters, encoder version and the
sha256 of the files that decide the bytes (binaries, cfg, the point's weights).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from bench import __version__, codecs, metrics
from bench.codecs import Encoded
from bench.codecs.base import set_deadline
from bench.core.errors import BenchError
from bench.core.files import config_hash, sha256_file
from bench.core.provenance import environment_digest, git_revision, host, package_versions
from bench.core.timing import Timing, clock
from bench.data.datasets import ImageRef
from bench.data.images import load_original, policy_token
from bench.results.store import RowStore, unit_key
from bench.sweep.reconstructions import reconstruction_columns


@dataclass(frozen=True)
class CodecConfig:
    name: str  # the config name, e.g. x265_444_10bit: the row's `codec`
    adapter: str  # registry name (x265), import path (mypkg.codecs:MyCodec) or file path (my.py:MyCodec)
    params: dict[str, Any] = field(default_factory=dict)
    points: tuple = ()
    label: str = ""  # how plots and reports name it when the name alone would mislead (e.g. demo models)


@dataclass
class Unit:
    key: str
    dataset: str
    image: ImageRef
    codec: CodecConfig
    codec_hash: str
    point: Any
    threads: int
    metric_matrix: str
    sweep_dir: str
    keep_bitstreams: bool
    static: dict  # provenance shared by every row of the job
    metric_names: tuple = metrics.DEFAULT  # bench.metrics registry names (config `metrics`)
    metric_device: str = "auto"  # torch metrics: auto | cpu | cuda
    remeasure: bool = False  # a finished row lacks some metrics and kept its bitstream: decode it, add them
    files_key: str = ""  # hash of every point's files: a worker's cached adapter (and its loaded weights) is
    #                      reused only for the very same files
    timeout: float | None = None  # seconds the unit may take (unit_timeout); codec processes are killed past it
    redo_note: str = ""  # why a stored row file was not trusted and the unit is computed again
    save_reconstructions: bool = False  # also write the decoded picture as PNG (config `save_reconstructions`)
    metric_batch: bool = False  # deep metrics batched across the points of this image (config `metric_batch`, bench.sweep.batch)


def make_adapter(cfg: CodecConfig, threads: int = 1):
    return codecs.make(cfg.adapter, threads=threads, **cfg.params)


def files_identity(files: dict[str, str]) -> dict[str, str]:
    """{label: sha256} of the files that decide the bytes (their content, never their path)."""
    out = {}
    for label, path in sorted(files.items()):
        try:
            out[label] = sha256_file(path)
        except OSError as exc:
            raise BenchError(f"{label} {path}: cannot read it to identify the configuration ({exc.strerror})") from None
    return out


def codec_identity(cfg: CodecConfig, adapter) -> tuple[str, dict]:
    """Everything that decides the bytes: adapter, its revision, parameters (file locations left out),
    encoder version, and the sha256 of the binaries and files every point shares."""
    ident = {"adapter": cfg.adapter, "revision": adapter.revision, "params": adapter.identity_params(),
             "encoder": adapter.version(), "files": files_identity(adapter.files(None))}
    return config_hash(ident), ident


def check_points(adapter, points) -> list:
    """Every rate point as it will be coded, or one BenchError line: a point the codec cannot code as
    labelled, or one given twice (two units with one key)."""
    out = []
    for p in points:
        q = adapter.check_point(p)
        if q in out:
            raise BenchError(f"{type(adapter).__name__} {adapter.point_name} {p!r} is listed twice in codec.points")
        out.append(q)
    return out


def provenance_record() -> dict:
    """What the rows of this process were computed with; stored once per sweep folder and record
    (`RowStore.write_provenance`), referenced by id from every row."""
    return {"git_revision": git_revision(), "bench_version": __version__,
            "packages": json.dumps(package_versions(), sort_keys=True), **host(), "environment": environment_digest()}


def plan(dataset: str, images: list[ImageRef], cfg: CodecConfig, store: RowStore, *, threads: int = 1,
         metric_matrix: str = "bt709", keep_bitstreams: bool = True, metric_names=None,
         metric_device: str = "auto", timeout: float | None = None,
         save_reconstructions: bool = False, metric_batch: bool = False) -> tuple[list[Unit], int]:
    """Units still to compute, and how many were already done (resumed).

    A row counts as done only when it holds every column of the chosen metrics; one that lacks some
    is remeasured from its kept bitstream (decode + the missing metrics) or, without one, redone.  A row
    file that is not a trustworthy row (bench.results.store.row_problem) is redone, and the new row says
    why (`redo_note`)."""
    names = metrics.resolve(metric_names)
    required = metrics.columns(names)
    metrics.check(names)
    adapter = make_adapter(cfg, threads)
    points = check_points(adapter, cfg.points)  # every point checked before any unit runs
    chash, ident = codec_identity(cfg, adapter)
    point_files = {p: files_identity(adapter.files(p)) for p in points}
    static = {
        "adapter": cfg.adapter, "codec_label": cfg.label or cfg.name, "point_name": adapter.point_name, "codec_hash": chash,
        "codec_params": json.dumps(adapter.params, sort_keys=True, default=str), "encoder": ident["encoder"],
        "threads": threads, "provenance": store.write_provenance(provenance_record()), **adapter.colour(),
    }
    if ident["files"]:
        static["codec_files"] = json.dumps(ident["files"], sort_keys=True)
    files_key = config_hash({str(p): f for p, f in point_files.items()})
    todo, done = [], 0
    for image in images:
        token = policy_token(image.path)
        for point in points:
            fh = config_hash(point_files[point]) if point_files[point] else ""
            key = unit_key(dataset, image.name, image.sha256, chash, point, fh, token)
            row, problem = store.read_checked(key)
            if row and row.get("status") == "ok" and all(c in row for c in required):
                done += 1
                continue
            st = {**static, "point_files": json.dumps(point_files[point], sort_keys=True)} if point_files[point] else static
            redo = f"the stored row file was not a trustworthy row ({problem}); unit computed again" if problem else ""
            todo.append(Unit(key, dataset, image, cfg, chash, point, threads, metric_matrix, str(store.dir), keep_bitstreams, st,
                             names, metric_device, _remeasurable(store, key), files_key, timeout, redo, save_reconstructions,
                             metric_batch))
    if todo:  # the codec is checked before any unit runs; a finished sweep needs no encoder (nor its imports)
        adapter.check()
    return todo, done


_ADAPTERS: dict[tuple[str, str, int], Any] = {}


def _cached_adapter(unit: "Unit"):
    """One adapter per worker process and codec configuration."""
    key = (unit.codec_hash, unit.files_key, unit.threads)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = make_adapter(unit.codec, unit.threads)
    return _ADAPTERS[key]


def _remeasurable(store: RowStore, key: str) -> bool:
    """An ok row whose bitstream is still on disk, with what its decoder needs (decode_meta)."""
    row = store.read(key)
    if not row or row.get("status") != "ok" or not row.get("bitstream") or "decode_meta" not in row:
        return False
    return (store.dir / row["bitstream"]).is_file()


def _remeasure(unit: Unit, t0: float) -> dict:
    """Decode the kept bitstream of a finished row again and add the metrics it lacks.  Raises when
    that cannot be trusted (file changed, decoder gives other pixels): the caller redoes the unit."""
    store = RowStore(unit.sweep_dir)
    old = store.read(unit.key)
    todo = metrics.missing(old, unit.metric_names)
    path = Path(unit.sweep_dir) / old["bitstream"]
    if path.stat().st_size != int(old["bytes"]):
        raise RuntimeError(f"{path} has {path.stat().st_size} bytes, the row says {old['bytes']}")
    adapter = _cached_adapter(unit)
    rgb = load_original(unit.image.path).rgb
    enc = Encoded(path, old.get("encode_command", ""), Timing(), json.loads(old["decode_meta"]))
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        dec = adapter.decode(enc, Path(tmp))
    if "psnr_rgb" in old:  # the same pixels as when the row was measured
        before, now = float(old["psnr_rgb"]), metrics.psnr(rgb, dec.rgb)
        if not (before == now or abs(before - now) <= 1e-9 * max(1.0, abs(before))):
            raise RuntimeError(f"decoded picture differs from the measured one (PSNR-RGB {now} vs {before})")
    with clock() as mc:
        values = metrics.compute(rgb, dec.rgb, unit.metric_matrix, names=todo, device=unit.metric_device)
    have = [n for n in str(old.get("metric_names") or "").split(",") if n]
    # notes of the metrics measured now replace theirs; the others' stay
    kept = [n for n in str(old.get(metrics.NOTE) or "").split(metrics.NOTE_SEP) if n and n.split(":")[0] not in todo]
    new = [n for n in str(values.pop(metrics.NOTE, "") or "").split(metrics.NOTE_SEP) if n]
    row = {**old, **values, "metric_names": ",".join(have + [n for n in todo if n not in have]),
           metrics.NOTE: metrics.NOTE_SEP.join(kept + new)}
    row["metrics_s"] = float(old.get("metrics_s") or 0.0) + mc.timing.wall
    row["metrics_added"] = (f"{','.join(todo)} at {datetime.now(timezone.utc).isoformat(timespec='seconds')}, "
                            "decoded again from the kept bitstream")
    row["remeasure_s"] = time.perf_counter() - t0
    store.write(row)
    return row


def base_row(unit: Unit) -> dict[str, Any]:
    """What every row of a unit holds, whatever happens to it: identity, configuration, provenance."""
    row: dict[str, Any] = {
        "key": unit.key, "status": "ok", "error": "", "dataset": unit.dataset, "image": unit.image.name,
        "image_sha256": unit.image.sha256, "codec": unit.codec.name, "point": unit.point, **unit.static,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if unit.redo_note:
        row["redo_note"] = unit.redo_note
    return row


def failed_row(unit: Unit, reason: str) -> dict:
    """Write and return the failed row of a unit that could not write its own (its worker ran past the
    time limit or died).  A finished row the unit wrote before its worker died is returned as it is; an
    earlier ok row that was to get more metrics is left on disk (the next run tries again)."""
    store = RowStore(unit.sweep_dir)
    row = store.read(unit.key)
    if row and row.get("status") == "ok":
        if all(c in row for c in metrics.columns(unit.metric_names)):
            return row  # finished before the worker died
        return {**row, "status": "failed", "error": reason}  # an earlier ok row still lacking metrics: kept as it is
    row = {**base_row(unit), "status": "failed", "error": reason}
    store.write(row)
    return row


def grace(limit: float) -> float:
    """How long past its limit a unit may run before the pool kills its worker.  The worker's own deadline
    kills codec processes at the limit and writes a proper failed row; only a unit stuck in library code
    is still running after this (2 % of the limit, 1 to 30 s)."""
    return min(30.0, max(1.0, 0.02 * limit))


def run_unit(unit: Unit) -> dict:
    """Encode, decode (separately, from the file), measure; write the row.  Never raises for a problem
    of the unit: a failure becomes a row with status 'failed' and its reason.  Codec processes still
    running at the unit's time limit are killed (bench.codecs.base.set_deadline); a unit stuck inside
    library code is ended from outside by the runner."""
    t0 = time.perf_counter()
    set_deadline(t0 + unit.timeout if unit.timeout else None)
    try:
        return _run_unit(unit, t0)
    finally:
        set_deadline(None)


def _run_unit(unit: Unit, t0: float) -> dict:
    fallback = ""
    if unit.remeasure:
        try:
            return _remeasure(unit, t0)
        except Exception as exc:  # redo the whole unit instead, and say why
            fallback = f"remeasure failed ({type(exc).__name__}: {exc}); unit redone".splitlines()[0]
    row, _ = measure(unit, unit.metric_names)
    if fallback:
        row["remeasure_note"] = fallback
    return finish(unit, row, t0)


def measure(unit: Unit, names) -> tuple[dict, tuple | None]:
    """Encode, decode (separately, from the file) and measure the metrics `names` (the unit's own, or those
    that a unit group does not batch: bench.sweep.batch); the row, not yet written, and (original,
    decoded) when the unit got that far.  A problem of the unit is a failed row, never an exception."""
    row = base_row(unit)
    pictures = None
    try:
        original = load_original(unit.image.path)
        rgb = original.rgb
        row["input_note"] = original.note
        h, w = rgb.shape[:2]
        adapter = _cached_adapter(unit)
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            enc = adapter.encode(rgb, unit.point, Path(tmp))
            nbytes = enc.path.stat().st_size
            dec = adapter.decode(enc, Path(tmp))
            if dec.rgb.shape != rgb.shape:
                raise RuntimeError(f"the decoder returned a {dec.rgb.shape[1]}x{dec.rgb.shape[0]} picture for a {w}x{h} original")
            with clock() as mc:
                values = metrics.compute(rgb, dec.rgb, unit.metric_matrix, names=names, device=unit.metric_device) if names else {}
            # what the decoder needs to run again on the kept file (files of this workdir do not survive it)
            decode_meta = json.dumps({k: v for k, v in enc.meta.items() if not (isinstance(v, str) and v.startswith(tmp))},
                                     sort_keys=True, default=str)
            bitstream = ""
            if unit.keep_bitstreams:
                # the key in the name: another dataset, picture or configuration never overwrites it
                rel = Path("bitstreams") / unit.dataset / unit.codec.name / unit.image.name / f"{unit.point}.{unit.key[:12]}{enc.path.suffix}"
                dest = Path(unit.sweep_dir) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(enc.path), dest)
                bitstream = str(rel)
        row.update({
            "width": w, "height": h, "pixels": w * h, "bytes": nbytes, "bpp": 8.0 * nbytes / (w * h), **values,
            metrics.NOTE: values.get(metrics.NOTE, ""),
            "encode_s": enc.timing.wall, "encode_cpu_s": enc.timing.cpu,
            "decode_s": dec.timing.wall, "decode_cpu_s": dec.timing.cpu, "metrics_s": mc.timing.wall,
            "encode_command": enc.command, "decode_command": dec.command, "bitstream": bitstream,
            "decode_meta": decode_meta, "metric_names": ",".join(unit.metric_names),
            **enc.extra, **dec.extra,
        })
        if unit.save_reconstructions:
            row.update(reconstruction_columns(unit.sweep_dir, unit.dataset, unit.codec.name, unit.image.name, unit.point,
                                              unit.key, dec.rgb))
        pictures = (rgb, dec.rgb)
    except Exception as exc:  # one failed unit must not stop the sweep
        row.update({"status": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
    return row, pictures


def finish(unit: Unit, row: dict, t0: float) -> dict:
    """Time the unit and write its row (one atomic file)."""
    row["unit_s"] = time.perf_counter() - t0
    RowStore(unit.sweep_dir).write(row)
    return row
