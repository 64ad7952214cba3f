"""Harness performance figures (a benchmark script, not a test): prints numbers, asserts nothing.

    bench perf sweep --kodak ../shared/datasets/kodak                 # overhead + speedup
    bench perf sweep --kodak ../shared/datasets/kodak --jpeg-vs-compressai

1. Overhead: the sweep's wall time on one worker divided by the sum, over the same units, of the raw
   encoder and decoder process times plus the metric functions' compute time, measured in a separate
   bare loop that calls the adapters and metrics directly (no store, no pool, no planning).
   Target <= 1.10.
2. Speedup of 2 workers over 1, encoder threads 1 per worker.  Target >= 1.8 on 2 cores.
3. The full Kodak JPEG sweep (24 images x quality 5..95 step 5, the same metrics) through the `bench`
   CLI, against `python -m compressai.utils.bench jpeg DIR -q 5,...,95 -j 2`.  Target >= 3x faster.
"""

from __future__ import annotations

import argparse
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


def jpeg_vs_compressai(kodak: str) -> None:
    qs = ",".join(map(str, QUALITIES))
    with tempfile.TemporaryDirectory() as out:
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "bench", "dataset=kodak", f"dataset.root={kodak}", "codec=jpeg",
                        f"codec.points=[{qs}]", "workers=2", f"results_root={out}", "sweep=jpeg"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        ours = time.perf_counter() - t
    print(f"full Kodak JPEG sweep (24 x 19, PSNR-RGB/Y/YUV + MS-SSIM, plots), bench CLI -j2: {ours:.1f} s", flush=True)
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compressai.utils.bench", "jpeg", kodak, "-q", qs, "-j", "2"], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    theirs = time.perf_counter() - t
    print(f"python -m compressai.utils.bench jpeg -j 2 (PSNR-RGB + MS-SSIM): {theirs:.1f} s")
    print(f"speed ratio: {theirs / ours:.2f}x (target >= 3)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", required=True, help="folder with kodim01.png .. kodim24.png")
    ap.add_argument("--images", type=int, default=6, help="Kodak subset size (default 6)")
    ap.add_argument("--codec", default="x265_444_10bit")
    ap.add_argument("--points", default="22,27,32,37")
    ap.add_argument("--jpeg-vs-compressai", action="store_true", help="also time the full Kodak JPEG sweep against CompressAI")
    args = ap.parse_args(argv)
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
    if args.jpeg_vs_compressai:
        jpeg_vs_compressai(args.kodak)


if __name__ == "__main__":
    main()
