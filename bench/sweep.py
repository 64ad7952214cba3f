"""One sweep job: a codec configuration x a dataset x its rate points, as independent units.

A unit is (image, rate point).  Units run in a process pool inside the job, not as Hydra jobs:
a unit lasts 0.05-10 s, far less than starting a Hydra job (config composition, logging, a new
interpreter for submitit/Ray), and a pool keeps each worker's decoded pictures cached across the
points of the same image.  Hydra's launchers parallelise the level above (codecs, datasets), so
the same sweep runs on a cluster with the submitit or Ray launcher unchanged: every job writes
its own rows, keyed by content, into the shared results folder.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass, field
from datetime import datetime, timezone
from multiprocessing import get_context
from pathlib import Path
from typing import Any

from tqdm import tqdm

from bench import __version__, codecs, metrics
from bench.codecs.base import clock
from bench.datasets import ImageRef
from bench.images import load_rgb
from bench.provenance import git_revision, host, package_versions
from bench.store import RowStore, config_hash, unit_key


@dataclass(frozen=True)
class CodecConfig:
    name: str  # the config name, e.g. x265_444_10bit: the row's `codec`
    adapter: str  # registry name, e.g. x265
    params: dict[str, Any] = field(default_factory=dict)
    points: tuple = ()


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


def make_adapter(cfg: CodecConfig, threads: int = 1):
    return codecs.make(cfg.adapter, threads=threads, **cfg.params)


def codec_identity(cfg: CodecConfig, adapter) -> tuple[str, dict]:
    """Everything that decides the bytes: adapter, its revision, parameters, encoder version."""
    ident = {"adapter": cfg.adapter, "revision": adapter.revision, "params": adapter.params, "encoder": adapter.version()}
    return config_hash(ident), ident


def plan(dataset: str, images: list[ImageRef], cfg: CodecConfig, store: RowStore, *, threads: int = 1,
         metric_matrix: str = "bt709", keep_bitstreams: bool = True) -> tuple[list[Unit], int]:
    """Units still to compute, and how many were already done (resumed)."""
    adapter = make_adapter(cfg, threads)
    adapter.check()
    chash, ident = codec_identity(cfg, adapter)
    static = {
        "adapter": cfg.adapter, "point_name": adapter.point_name, "codec_hash": chash,
        "codec_params": json.dumps(adapter.params, sort_keys=True, default=str), "encoder": ident["encoder"],
        "threads": threads, "bench_version": __version__, "git_revision": git_revision(),
        "packages": json.dumps(package_versions(), sort_keys=True), **host(), **adapter.colour(),
    }
    todo, done = [], 0
    for image in images:
        for point in cfg.points:
            key = unit_key(image.sha256, chash, point)
            if store.done(key):
                done += 1
                continue
            todo.append(Unit(key, dataset, image, cfg, chash, point, threads, metric_matrix, str(store.dir), keep_bitstreams, static))
    return todo, done


_ADAPTERS: dict[tuple[str, int], Any] = {}


def _cached_adapter(unit: "Unit"):
    """One adapter per worker process and codec configuration."""
    key = (unit.codec_hash, unit.threads)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = make_adapter(unit.codec, unit.threads)
    return _ADAPTERS[key]


def run_unit(unit: Unit) -> dict:
    """Encode, decode (separately, from the file), measure; write the row.  Never raises:
    a failure becomes a row with status 'failed' and its reason."""
    t0 = time.perf_counter()
    row: dict[str, Any] = {
        "key": unit.key, "status": "ok", "error": "", "dataset": unit.dataset, "image": unit.image.name,
        "image_sha256": unit.image.sha256, "codec": unit.codec.name, "point": unit.point, **unit.static,
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    try:
        adapter = _cached_adapter(unit)
        rgb = load_rgb(unit.image.path)
        h, w = rgb.shape[:2]
        with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
            enc = adapter.encode(rgb, unit.point, Path(tmp))
            nbytes = enc.path.stat().st_size
            dec = adapter.decode(enc, Path(tmp))
            with clock() as mc:
                values = metrics.compute(rgb, dec.rgb, unit.metric_matrix)
            bitstream = ""
            if unit.keep_bitstreams:
                rel = Path("bitstreams") / unit.codec.name / unit.image.name / f"{unit.point}{enc.path.suffix}"
                dest = Path(unit.sweep_dir) / rel
                dest.parent.mkdir(parents=True, exist_ok=True)
                shutil.move(str(enc.path), dest)
                bitstream = str(rel)
        row.update({
            "width": w, "height": h, "pixels": w * h, "bytes": nbytes, "bpp": 8.0 * nbytes / (w * h), **values,
            "encode_s": enc.timing.wall, "encode_cpu_s": enc.timing.cpu,
            "decode_s": dec.timing.wall, "decode_cpu_s": dec.timing.cpu, "metrics_s": mc.timing.wall,
            "encode_command": enc.command, "decode_command": dec.command, "bitstream": bitstream,
            **enc.extra, **dec.extra,
        })
    except Exception as exc:  # one failed unit must not stop the sweep
        row.update({"status": "failed", "error": f"{type(exc).__name__}: {exc}".splitlines()[0]})
    row["unit_s"] = time.perf_counter() - t0
    RowStore(unit.sweep_dir).write(row)
    return row


def _worker_init(threads: int) -> None:
    os.environ["OMP_NUM_THREADS"] = str(threads)
    try:
        import torch

        torch.set_num_threads(threads)
    except ImportError:
        pass


def auto_workers(workers: Any, threads: int) -> int:
    if workers in (None, "auto", 0):
        return max(1, (os.cpu_count() or 1) // max(1, threads))
    return max(1, int(workers))


def execute(units: list[Unit], workers: int, desc: str = "") -> list[dict]:
    """Run units over `workers` processes with a progress bar; returns the rows."""
    rows: list[dict] = []
    if not units:
        return rows
    # In a log file (no TTY) a line every 10 s is enough; on a terminal the bar redraws often.
    bar = tqdm(total=len(units), desc=desc, unit="unit", dynamic_ncols=True, mininterval=0.5 if sys.stderr.isatty() else 10)
    threads = units[0].threads
    if workers == 1:
        _worker_init(threads)
        for u in units:
            rows.append(run_unit(u))
            bar.update()
    else:
        # fork: workers inherit the imported modules; nothing in the parent has started torch threads.
        with ProcessPoolExecutor(workers, mp_context=get_context("fork"), initializer=_worker_init, initargs=(threads,)) as pool:
            futures = [pool.submit(run_unit, u) for u in units]
            for fut in as_completed(futures):
                rows.append(fut.result())
                bar.update()
    bar.close()
    return rows


def failed_summary(rows: list[dict]) -> list[str]:
    return [f"{r['codec']} {r['image']} {r['point_name']}={r['point']}: {r['error']}" for r in rows if r["status"] != "ok"]
