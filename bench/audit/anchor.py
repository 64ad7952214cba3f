"""The anchor audit of one classical codec configuration: bench's path against CompressAI's, same
pictures, same points, same binary.

What is measured, and how:
  (a) The colour path's own loss.  For HM/VTM, each harness's path runs with a pass-through "codec"
      (bench.audit.passthrough) instead of the encoder: the PSNR-RGB of that round trip is the ceiling
      no codec behind the path can pass on these pictures.  Then both paths code at the codec's
      lowest-loss point (QP 0; JPEG/WebP quality 100; JPEG 2000 without a rate limit), which adds the
      codec's own smallest loss; for the Pillow codecs the colour conversion is inside the library and
      this probe is the only figure.
  (b) The RD curves.  bench's path runs through the sweep's own units (bench.sweep.units: the same
      encode, decode and metrics code as `bench`, rows in <audit>/<codec>/rows/, resumable);
      CompressAI's is `python -m compressai.utils.bench` (bench.audit.peers).  Both are dataset means
      over the pictures of per-picture bpp and PSNR-RGB.  The BD-rate of bench's curve against
      CompressAI's comes from bench.analysis.bd (bjontegaard, pchip), with both point sets beside it.
  (c) For HM/VTM with a checkout beside the binaries: the cfg against that version's public file
      (bench.audit.cfgdiff).

Where the two paths make the same calls (JPEG, WebP) the BD-rate must be ~0 and the audit says so;
anywhere else the listed differences (`peers.differences`) are what the number measures.

Files under <out>/<codec>/: audit.json (every number), points.csv (both RD point sets, the probe and the
colour path), audit.md (the report section), compressai.json / compressai.log (CompressAI's output),
the cfg CompressAI got, rows/ (bench's units).  <out>/audit.md joins the sections of every codec
audited there; `bench report` shows it when <out> is the sweep's audit/ folder.
"""

from __future__ import annotations

import csv
import io
import json
import math
import shutil
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from bench.analysis.bd import bd as bd_pair
from bench.audit import cfgdiff, passthrough
from bench.audit.peers import (Peer, bench_colour, differences, image_folder, link_build, peer_cfg, peer_of,
                               run_compressai)
from bench.codecs.reference_software import ReferenceSoftware
from bench.core.errors import BenchError
from bench.core.files import atomic_write_bytes
from bench.data.datasets import ImageRef
from bench.results.store import RowStore
from bench.sweep.runner import execute
from bench.sweep.units import CodecConfig, codec_identity, make_adapter, plan

DATASET = "audit"  # the rows' dataset name: the audit's pictures are not a dataset of the sweep


@dataclass
class AuditResult:
    codec: str
    adapter: str
    encoder: str
    point_name: str
    points: list
    images: list[dict]
    peer: str | None
    same_path: bool
    cfg: dict | None = None
    bench_curve: list[dict] = field(default_factory=list)
    peer_curve: list[dict] = field(default_factory=list)
    peer_command: str = ""
    peer_version: str = ""
    peer_description: str = ""
    bd_rate: float = math.nan
    bd_psnr: float = math.nan
    bd_warnings: list[str] = field(default_factory=list)
    probe: dict = field(default_factory=dict)
    colour_path: dict = field(default_factory=dict)
    differences: list[str] = field(default_factory=list)
    cfg_diff: dict | None = None
    failures: list[str] = field(default_factory=list)
    when: str = ""

    def to_json(self) -> str:
        def clean(v):
            if isinstance(v, float) and not math.isfinite(v):
                return str(v)
            if isinstance(v, dict):
                return {k: clean(x) for k, x in v.items()}
            if isinstance(v, (list, tuple)):
                return [clean(x) for x in v]
            return v

        return json.dumps(clean(asdict(self)), indent=1, default=str)


def _mean(values) -> float:
    arr = np.asarray(list(values), dtype=float)
    return float(arr.mean()) if arr.size else math.nan


def _run_bench(cfg: CodecConfig, images: list[ImageRef], store_dir: Path, workers: int) -> tuple[list[dict], list[str]]:
    """bench's own units for cfg on the pictures; the ok rows of this exact configuration and the failures."""
    store = RowStore(store_dir)
    units, _ = plan(DATASET, images, cfg, store, threads=1, metric_names=("psnr",), keep_bitstreams=False)
    execute(units, max(1, min(workers, len(units) or 1)), desc=cfg.name)
    chash, _ = codec_identity(cfg, make_adapter(cfg))
    names = {im.name for im in images}
    rows = [r for r in store.rows() if r.get("codec_hash") == chash and r.get("image") in names and r.get("dataset") == DATASET]
    failed = [f"bench {r['image']} {r.get('point_name', 'point')}={r['point']}: {r.get('error', '')}" for r in rows
              if r["status"] != "ok"]
    return [r for r in rows if r["status"] == "ok"], failed


def _curve(rows: list[dict], points: Sequence, n_images: int, to_peer) -> tuple[list[dict], list[str]]:
    out, missing = [], []
    for p in points:
        at = [r for r in rows if float(r["point"]) == float(p)]
        if len(at) != n_images:
            missing.append(f"bench has {len(at)} of {n_images} pictures at point {p}")
            continue
        out.append({"point": p, "peer_q": to_peer(p), "bpp": _mean(r["bpp"] for r in at),
                    "psnr_rgb": _mean(float(r["psnr_rgb"]) for r in at), "n_images": len(at)})
    return out, missing


def _fresh(path: Path) -> Path:
    if path.is_symlink() or path.is_file():
        path.unlink()
    elif path.exists():
        shutil.rmtree(path)
    return path


def run_audit(codec: CodecConfig, images: list[ImageRef], out_dir: Path, points: Sequence | None = None, *,
              compressai: bool = True, inprocess: bool = False, jobs: int = 1, workers: int = 1,
              timeout: float | None = None, log=print) -> AuditResult:
    """Audit one codec configuration on `images` at `points` (default: the configuration's); write the
    files under out_dir/<codec>/ and the joined out_dir/audit.md; return the numbers."""
    if not images:
        raise BenchError("bench audit: no pictures")
    if len({im.name for im in images}) != len(images):
        raise BenchError("bench audit: two pictures have the same name (file name without suffix)")
    adapter = make_adapter(codec)
    peer = peer_of(adapter)
    if peer is None:
        raise BenchError(f"bench audit: adapter {codec.adapter!r} ({type(adapter).__name__}) has no counterpart in "
                         "CompressAI's bench; audited adapters: jpeg, webp, jpeg2000, vtm, hm")
    points = [adapter.check_point(p) for p in (points if points is not None else codec.points)]
    if len(points) < 2:
        raise BenchError("bench audit: give at least 2 rate points (a BD-rate needs curves)")
    probe = adapter.check_point(peer.probe)
    peer_points = {p: peer.to_peer(p) for p in [*points, probe]}  # refuses points CompressAI cannot take
    if len({peer_points[p] for p in points}) != len(points):
        raise BenchError(f"bench audit: points {points} map to repeated CompressAI -q values {[peer_points[p] for p in points]}")
    adapter.check()

    cdir = out_dir / codec.name
    cdir.mkdir(parents=True, exist_ok=True)
    result = AuditResult(codec.name, codec.adapter, adapter.version(), adapter.point_name, list(points),
                         [{"name": im.name, "sha256": im.sha256, "path": im.path} for im in images],
                         peer.name, peer.same_path, differences=differences(adapter, peer),
                         when=datetime.now(timezone.utc).isoformat(timespec="seconds"))
    if isinstance(adapter, ReferenceSoftware):
        result.cfg = adapter.cfg_choice().columns()

    # (b) bench's path, at the points and the probe, through the sweep's own units
    all_points = list(dict.fromkeys([*points, probe]))
    log(f"[audit] {codec.name}: bench's path, {len(images)} picture(s) x {len(all_points)} point(s)")
    rows, failed = _run_bench(CodecConfig(codec.name, codec.adapter, dict(codec.params), tuple(all_points), codec.label),
                              images, cdir, workers)
    result.failures += failed
    result.bench_curve, missing = _curve(rows, points, len(images), peer.to_peer)
    result.failures += missing
    probe_rows, _ = _curve(rows, [probe], len(images), peer.to_peer)
    result.probe = {"what": peer.probe_what, "point": probe, "peer_q": peer_points[probe],
                    "bench": probe_rows[0] if probe_rows else None, "peer": None}

    image_dir = None
    if compressai:
        image_dir = image_folder(images, _fresh(cdir / "compressai-images"))
        extra: list[str] = []
        if peer.reference_tool:
            build = link_build(adapter, _fresh(cdir / "compressai-build"))
            extra = ["-b", str(build), "-c", str(peer_cfg(adapter, cdir))]
        qps = [peer_points[p] for p in all_points]
        log(f"[audit] {codec.name}: CompressAI's bench {peer.name}, -q {','.join(map(str, sorted(set(qps))))}")
        run = run_compressai(peer, image_dir, qps, extra, cdir, jobs=jobs, inprocess=inprocess, timeout=timeout)
        result.peer_command, result.peer_version, result.peer_description = run.command, run.version, run.description
        atomic_write_bytes(cdir / "compressai.log", (run.command + "\n\n" + run.log).encode())
        if run.error:
            result.failures.append(run.error)
        else:
            atomic_write_bytes(cdir / "compressai.json", json.dumps(
                {"command": run.command, "compressai": run.version, "name": run.name, "description": run.description,
                 "qps": run.qps, "results": run.results}, indent=1, default=str).encode())
            result.peer_curve = [{"point": p, "peer_q": peer_points[p], **run.point(peer_points[p]), "n_images": len(images)}
                                 for p in points]
            result.probe["peer"] = {"peer_q": peer_points[probe], **run.point(peer_points[probe])}
            if len(result.bench_curve) == len(points):
                b = bd_pair([r["bpp"] for r in result.peer_curve], [r["psnr_rgb"] for r in result.peer_curve],
                            [r["bpp"] for r in result.bench_curve], [r["psnr_rgb"] for r in result.bench_curve],
                            method="pchip", anchor="CompressAI", test="bench")
                result.bd_rate, result.bd_psnr, result.bd_warnings = b.bd_rate, b.bd_metric, b.warnings

    # (a) the colour paths alone: a pass-through in place of the encoder and decoder
    if peer.reference_tool:
        result.colour_path = _colour_paths(codec, adapter, peer, images, probe, cdir, image_dir, compressai, inprocess,
                                           jobs, workers, timeout, log, result.failures)
        public = cfgdiff.find_public_cfg(adapter)
        if public is not None:
            d = cfgdiff.diff(adapter.cfg_path(), public)
            result.cfg_diff = {"ours": str(d.ours), "public": str(d.public),
                               "rows": [{"option": k, "ours": a, "public": b, "named_in_header": n} for k, a, b, n in d.rows]}

    atomic_write_bytes(cdir / "audit.json", result.to_json().encode())
    atomic_write_bytes(cdir / "points.csv", points_csv(result).encode())
    from bench.audit.page import section, write_index

    atomic_write_bytes(cdir / "audit.md", section(result).encode())
    write_index(out_dir)
    return result


def _colour_paths(codec: CodecConfig, adapter, peer: Peer, images, probe, cdir: Path, image_dir, compressai: bool,
                  inprocess: bool, jobs: int, workers: int, timeout, log, failures: list[str]) -> dict:
    tool = peer.reference_tool
    enc, dec = passthrough.write_build(_fresh(cdir / "passthrough-build"), tool)
    out: dict[str, Any] = {"bench_what": bench_colour(adapter.spec), "peer_what": "Y'CbCr 4:4:4 8-bit, BT.709 full range, truncated",
                           "bench": None, "peer": None}
    params = {**codec.params, "encoder": str(enc), "decoder": str(dec), "cfg": str(adapter.cfg_path()), "cfg_version": "auto"}
    cfg = CodecConfig(f"{codec.name}.colour-path", codec.adapter, params, (probe,))
    log(f"[audit] {codec.name}: colour paths alone (pass-through codec)")
    rows, failed = _run_bench(cfg, images, cdir / "colour_path", workers)
    failures += failed
    if len(rows) == len(images):
        out["bench"] = {"psnr_rgb": _mean(float(r["psnr_rgb"]) for r in rows),
                        "per_image": {r["image"]: float(r["psnr_rgb"]) for r in rows}}
    if compressai and image_dir is not None:
        q = peer.to_peer(probe)
        run = run_compressai(peer, image_dir, [q], ["-b", str(enc.parent), "-c", str(peer_cfg(adapter, cdir))], cdir,
                             jobs=jobs, inprocess=inprocess, timeout=timeout)
        if run.error:
            failures.append(f"colour path (pass-through) through CompressAI: {run.error}")
        else:
            out["peer"] = {"psnr_rgb": run.point(q)["psnr_rgb"]}
            out["peer_command"] = run.command
    return out


def points_csv(r: AuditResult) -> str:
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["codec", "path", "role", "point", "compressai_q", "bpp", "psnr_rgb", "n_images"])
    for path, curve in (("bench", r.bench_curve), ("compressai", r.peer_curve)):
        for c in curve:
            w.writerow([r.codec, path, "rd", c["point"], c["peer_q"], repr(c["bpp"]), repr(c["psnr_rgb"]), c["n_images"]])
    for path in ("bench", "peer"):
        c = r.probe.get(path) if r.probe else None
        if c:
            w.writerow([r.codec, "bench" if path == "bench" else "compressai", "probe", r.probe["point"], r.probe["peer_q"],
                        repr(c["bpp"]), repr(c["psnr_rgb"]), len(r.images)])
    for path in ("bench", "peer"):
        c = r.colour_path.get(path) if r.colour_path else None
        if c:
            w.writerow([r.codec, "bench" if path == "bench" else "compressai", "colour_path", r.probe.get("point", ""), "",
                        "", repr(c["psnr_rgb"]), len(r.images)])
    return buf.getvalue()
