"""Tables at scale (a benchmark, not a test): a synthetic sweep of a million rows, then the time to
load its frame and to rebuild its tables.  Prints figures beside their targets; asserts nothing.

    bench perf tables [--rows 1000000] [--jobs 100] [--loose 1000] [--dir DIR]

The sweep: `--jobs` shards (one per job, as compaction leaves them) holding `--rows` rows shaped like
real JPEG/x265 rows (the same columns, per-job constants, unique commands, bitstream paths and
timestamps), plus `--loose` rows still as JSON files, two provenance records.  Timed:
  1. `bench.results.tables.frame(store)`: the frame of current rows (de-duplicated, superseded rows
     dropped, sorted, provenance joined).  Target < 5 s.
  2. `bench.results.tables.write_tables(store)`: results.parquet, results.csv, provenance.csv,
     summary.csv.  Target < 10 s.
  3. `RowStore.compact()` of the loose rows into one more shard, and the bytes per row on disk.
"""

from __future__ import annotations

import argparse
import io
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

CODECS = ["x265_444_10bit", "x265_420_10bit", "vvenc_420_10bit", "jpeg", "webp"]


def _job_table(job: int, n: int, provenance: str, t0: int):
    import pyarrow as pa

    rng = np.random.default_rng(job)
    codec = f"{CODECS[job % len(CODECS)]}_v{job}"
    points = np.tile(np.array([22, 27, 32, 37]), n // 4 + 1)[:n]
    images = np.repeat(np.arange(n // 4 + 1), 4)[:n]
    w, h = 768, 512
    nbytes = rng.integers(2000, 90000, n)
    psnr = rng.normal(34, 3, n)
    ms = 1 - 10 ** (-rng.normal(14, 2, n) / 10)
    keys = [f"{job:06d}{i:018d}" for i in range(n)]
    names = [f"img{i:05d}" for i in images]
    enc = [f"ffmpeg -hide_banner -nostdin -v info -f rawvideo -pix_fmt yuv444p10le -s {w}x{h} -r 1 -i - -frames:v 1 "
           f"-c:v libx265 -preset veryslow -tune psnr -x265-params qp={p}:keyint=1:ipratio=1:info=0 -f hevc -y "
           f"/tmp/bench-{job:x}{i:x}/bitstream.hevc" for i, p in enumerate(points)]
    const = {
        "status": "ok", "error": "", "dataset": "synth", "codec": codec, "adapter": "x265", "codec_label": codec,
        "point_name": "qp", "codec_hash": f"{job:016x}", "codec_params": json.dumps({"preset": "veryslow", "job": job}),
        "encoder": "libx265 via ffmpeg version n9.0.2-17-g2a571b6068-20260930 Copyright (c) 2000-2026 the FFmpeg developers",
        "threads": 1, "provenance": provenance, "colour_matrix": "bt709", "colour_range": "limited", "colour_chroma": "444",
        "colour_bit_depth": 10, "colour_siting": "center", "width": w, "height": h, "pixels": w * h, "ms_ssim_win": 11,
        "metric_matrix": "bt709", "metric_names": "psnr,ms_ssim",
    }
    cols = {
        "key": keys, "image": names, "image_sha256": [f"{i:064x}" for i in images], "point": points,
        "timestamp": [time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(t0 + job * n + i)) for i in range(n)],
        "bytes": nbytes, "bpp": 8.0 * nbytes / (w * h), "psnr_rgb": psnr, "psnr_y": psnr + 1, "psnr_u": psnr + 6,
        "psnr_v": psnr + 7, "psnr_yuv": psnr + 2.5, "ms_ssim_rgb": ms, "ms_ssim_rgb_db": -10 * np.log10(1 - ms),
        "encode_s": rng.uniform(0.1, 1, n), "encode_cpu_s": rng.uniform(0.1, 1, n), "decode_s": rng.uniform(0.01, 0.1, n),
        "decode_cpu_s": rng.uniform(0.01, 0.1, n), "metrics_s": rng.uniform(0.01, 0.05, n), "encode_command": enc,
        "decode_command": [e.replace("libx265", "hevc") for e in enc],
        "bitstream": [f"bitstreams/synth/{codec}/{m}/{p}.{k[:12]}.hevc" for m, p, k in zip(names, points, keys)],
        "decode_meta": json.dumps({"coded_h": h, "coded_w": w, "height": h, "width": w}), "unit_s": rng.uniform(0.1, 1, n),
    }
    arrays = {}
    for k, v in {**const, **cols}.items():
        arrays[k] = pa.array(v) if isinstance(v, (list, np.ndarray)) else pa.array([v] * n)
    from bench.results import shards

    return pa.table(arrays).replace_schema_metadata({shards.JSON_META: b"[]"})


def build(sweep: Path, rows: int, jobs: int, loose: int) -> None:
    """Write the synthetic sweep: `jobs` shards of rows // jobs rows, `loose` JSON row files."""
    import pyarrow.parquet as pq

    from bench.core.files import atomic_write_bytes
    from bench.results import shards
    from bench.results.store import RowStore

    store = RowStore(sweep)
    store.rows_dir.mkdir(parents=True, exist_ok=True)
    ids = [store.write_provenance({"git_revision": f"{r:040x}", "bench_version": "0.1.0", "host": f"node{r}",
                                   "platform": "Linux", "cpus": "2", "packages": json.dumps({"numpy": "1.26.4"})}) for r in (1, 2)]
    t0 = 1_780_000_000
    per = rows // jobs
    for j in range(jobs):
        buf = io.BytesIO()
        pq.write_table(_job_table(j, per, ids[j % 2], t0), buf, compression="lz4")
        atomic_write_bytes(shards.shard_dir(store.rows_dir) / f"20260101T{j:06d}000000Z-synth.parquet", buf.getvalue())
    extra = _job_table(jobs, loose, ids[0], t0).to_pylist()
    for r in extra:
        store.write(r)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--jobs", type=int, default=100)
    ap.add_argument("--loose", type=int, default=1000)
    ap.add_argument("--dir", type=Path, help="build the sweep here and keep it (default: a temporary folder)")
    args = ap.parse_args(argv)
    from bench.results.store import RowStore
    from bench.results.tables import frame, write_tables

    tmp = None if args.dir else tempfile.mkdtemp(prefix="bench-perf-tables-")
    sweep = args.dir or Path(tmp) / "synth"
    try:
        t = time.perf_counter()
        build(sweep, args.rows, args.jobs, args.loose)
        total = args.rows // args.jobs * args.jobs + args.loose
        print(f"synthetic sweep: {total:,} rows = {args.jobs} shards + {args.loose} row files ({time.perf_counter() - t:.1f} s to build)",
              flush=True)
        store = RowStore(sweep)
        t = time.perf_counter()
        df = frame(store)
        load = time.perf_counter() - t
        print(f"load the frame (tables.frame): {load:.2f} s for {len(df):,} rows x {df.shape[1]} columns (target < 5 s)", flush=True)
        del df
        t = time.perf_counter()
        paths = write_tables(RowStore(sweep))
        rebuild = time.perf_counter() - t
        sizes = ", ".join(f"{p.name} {p.stat().st_size / 1e6:.0f} MB" for p in paths.values())
        print(f"rebuild the tables (tables.write_tables): {rebuild:.2f} s ({sizes}) (target < 10 s)", flush=True)
        t = time.perf_counter()
        RowStore(sweep).compact(min_rows=1)
        print(f"compact {args.loose} row files into one shard: {time.perf_counter() - t:.2f} s", flush=True)
        on_disk = sum(p.stat().st_size for p in (sweep / "rows").rglob("*") if p.is_file())
        print(f"rows on disk: {on_disk / 1e6:.0f} MB, {on_disk / total:.0f} bytes per row "
              f"(row files held ~2,600 bytes per row, provenance repeated in each)")
        return {"rows": total, "load_s": load, "rebuild_s": rebuild}
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
