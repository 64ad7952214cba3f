"""Harness performance figures (a benchmark script, not a test): prints numbers, asserts nothing.

    bench perf sweep --kodak ../shared/datasets/kodak                 # overhead + speedup
    bench perf sweep --kodak ../shared/datasets/kodak --jpeg-vs-compressai
    bench perf sweep --kodak ../shared/datasets/kodak --jpeg-vs-compressai --only-jpeg

1. Overhead: the sweep's wall time on one worker divided by the sum, over the same units, of the raw
   encoder and decoder process times plus the metric functions' compute time, measured in a separate
   bare loop that calls the adapters and metrics directly (no store, no pool, no planning).
   Target <= 1.10.
2. Speedup of 2 workers over 1, encoder threads 1 per worker.  Target >= 1.8 on 2 cores.
3. The full Kodak JPEG sweep (24 images x quality 5..95 step 5, the same metrics) through the `bench`
   CLI, against `python -m compressai.utils.bench jpeg DIR -q 5,...,95 -j 2`.  Target >= 3x faster.
   Timed like for like (rows and tables, no plots or report: CompressAI's bench makes neither), and
   also as the default command with RD plots and the report; then that command again with nothing
   changed (the rerun target, < 2 s).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench import metrics
from bench.cli.common import compose
from bench.cli.sweep import run
from bench.data.datasets import resolve
from bench.data.images import load_rgb
from bench.sweep.job import codec_config
from bench.sweep.units import make_adapter

QUALITIES = list(range(5, 100, 5))


def _compose(overrides):
    return compose(overrides)


def _sweep_overrides(kodak: str, n: int, codec: str, points: list, out: str, workers: int) -> list[str]:
    return [f"dataset=kodak", f"dataset.root={kodak}", f"dataset.limit={n}", f"codec={codec}", f"codec.points={points}",
            f"results_root={out}", "sweep=perf", f"workers={workers}", "threads=1", "plot=false"]


def bare_seconds(kodak: str, n: int, codec_cfg, points: list) -> float:
    """Raw codec process time + metric compute time for the units, with nothing of the harness."""
    cfg = _compose(_sweep_overrides(kodak, n, codec_cfg, points, "/tmp", 1))
    adapter = make_adapter(codec_config(cfg), 1)
    total = 0.0
    with tempfile.TemporaryDirectory() as tmp:
        for image in resolve(cfg.dataset):
            rgb = load_rgb(image.path)
            for p in points:
                enc = adapter.encode(rgb, p, Path(tmp))
                dec = adapter.decode(enc, Path(tmp))
                t = time.perf_counter()
                metrics.compute(rgb, dec.rgb)
                total += enc.timing.wall + dec.timing.wall + (time.perf_counter() - t)
    return total


def sweep_seconds(kodak: str, n: int, codec: str, points: list, workers: int) -> float:
    with tempfile.TemporaryDirectory() as out:
        cfg = _compose(_sweep_overrides(kodak, n, codec, points, out, workers))
        t = time.perf_counter()
        res = run(cfg)
        wall = time.perf_counter() - t
        if res["failed"]:
            raise SystemExit(f"{res['failed']} units failed")
        return wall


def _timed(cmd: list[str], cwd: str | None = None, env: dict | None = None) -> float:
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                          env=None if env is None else {**os.environ, **env})
    if proc.returncode != 0:
        raise SystemExit(f"{' '.join(cmd[:4])} ... failed: {proc.stderr.strip().splitlines()[-3:]}")
    return time.perf_counter() - t


def jpeg_vs_compressai(kodak: str) -> dict:
    """The full Kodak JPEG sweep, CompressAI's bench and ours, side by side, each once."""
    qs = ",".join(map(str, QUALITIES))
    sweep = [sys.executable, "-m", "bench", "dataset=kodak", f"dataset.root={kodak}", "codec=jpeg", f"codec.points=[{qs}]",
             "workers=2", "sweep=jpeg"]
    out: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        # like for like: the same metrics into rows and tables, no plots, no report (CompressAI's bench
        # prints its metrics and makes neither)
        out["rows"] = _timed([*sweep, f"results_root={tmp}/a", "plot=false", "~hydra.callbacks.report"])
        print(f"full Kodak JPEG sweep (24 x 19, PSNR-RGB/Y/U/V/YUV + MS-SSIM), bench -j2, rows and tables: {out['rows']:.1f} s",
              flush=True)
        out["full"] = _timed([*sweep, f"results_root={tmp}/b"])
        print(f"the same, the default command (+ RD plots + report with BD tables): {out['full']:.1f} s", flush=True)
        out["rerun"] = _timed([*sweep, f"results_root={tmp}/b"])
        print(f"the same command again, nothing changed: {out['rerun']:.2f} s (target < 2 s)", flush=True)
    theirs = [sys.executable, "-m", "compressai.utils.bench", "jpeg", kodak, "-q", qs, "-j", "2"]
    # as users run it (each of the 2 processes with torch's default threads), and with one torch thread
    # per process (no oversubscription: its best case on 2 cores); the faster one is the reference
    out["compressai_default"] = _timed(theirs)
    print(f"python -m compressai.utils.bench jpeg -j 2 (PSNR-RGB + MS-SSIM): {out['compressai_default']:.1f} s", flush=True)
    out["compressai_1thread"] = _timed(theirs, env={"OMP_NUM_THREADS": "1"})
    print(f"the same with OMP_NUM_THREADS=1: {out['compressai_1thread']:.1f} s", flush=True)
    out["compressai"] = min(out["compressai_default"], out["compressai_1thread"])
    print(f"speed ratio against the faster CompressAI run: {out['compressai'] / out['rows']:.2f}x rows and tables, "
          f"{out['compressai'] / out['full']:.2f}x with plots and report (target >= 3)")
    return out


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", required=True, help="folder with kodim01.png .. kodim24.png")
    ap.add_argument("--images", type=int, default=6, help="Kodak subset size (default 6)")
    ap.add_argument("--codec", default="x265_444_10bit")
    ap.add_argument("--points", default="22,27,32,37")
    ap.add_argument("--jpeg-vs-compressai", action="store_true", help="also time the full Kodak JPEG sweep against CompressAI")
    ap.add_argument("--only-jpeg", action="store_true", help="only the JPEG sweep against CompressAI")
    args = ap.parse_args(argv)
    out: dict = {}
    if not args.only_jpeg:
        points = [int(p) for p in args.points.split(",")]
        n_units = args.images * len(points)
        print(f"subset: {args.images} Kodak images x {args.codec} at {points} = {n_units} units", flush=True)
        # warm-up: first-touch costs (torch import, page cache) belong to neither side
        bare_seconds(args.kodak, 1, args.codec, points[:1])
        bare = bare_seconds(args.kodak, args.images, args.codec, points)
        one = sweep_seconds(args.kodak, args.images, args.codec, points, 1)
        two = sweep_seconds(args.kodak, args.images, args.codec, points, 2)
        print(f"bare codec processes + metrics: {bare:.2f} s")
        print(f"harness, 1 worker: {one:.2f} s  -> overhead ratio {one / bare:.3f} (target <= 1.10)")
        print(f"harness, 2 workers: {two:.2f} s -> speedup {one / two:.2f}x (target >= 1.8)")
        out.update(overhead=one / bare, speedup=one / two)
    if args.jpeg_vs_compressai or args.only_jpeg:
        out.update(jpeg_vs_compressai(args.kodak))
    return out


if __name__ == "__main__":
    main()
