"""Deep metrics per unit against batched across the rate points of an image (metric_batch), side by side.

    bench perf deep [--kodak ../shared/datasets/kodak] [--images 2] [--points 10 30 50 80] [--metrics lpips dists]
                    [--device cpu|cuda|auto] [--threads 1] [--repeat 1]

Pictures: the first N Kodak pictures (scikit-image photos without Kodak, as `bench perf metrics`), each coded
by JPEG at the given qualities (the rate points).  For each metric and picture, the same pairs are measured
both ways a sweep worker does it, each starting without the picture's reference features (as the first
point of a picture does): per unit, one `bench.metrics.compute` call per point (the reference's features
computed at the first point and reused by the next ones, as a sweep with metric_batch=false does); batched,
the points in chunks of `bench.sweep.memory.chunk_size` pictures, through the sweep's own batched call
(`bench.sweep.batch._deep_values`).  Networks are loaded before timing.  Printed per metric: wall seconds
both ways, CPU seconds (all threads: the figure to compare on a shared machine), the ratio, and the
largest difference between the two paths' values (it must be <= 1e-6).  Returns the figures for `bench
perf all`.  Run it on a quiet machine: the timings are wall-clock.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import numpy as np


def _cpu() -> float:
    t = os.times()
    return t.user + t.system


def _jpeg(rgb: np.ndarray, quality: int) -> np.ndarray:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, format="JPEG", quality=quality)
    return np.asarray(Image.open(buf).convert("RGB"))


def _forget_references() -> None:
    from bench.metrics import dists, lpips

    lpips._REF.clear()
    dists._REF.clear()


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=str(Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kodak"))
    ap.add_argument("--images", type=int, default=2)
    ap.add_argument("--points", type=int, nargs="+", default=[10, 30, 50, 80], help="JPEG qualities (the rate points)")
    ap.add_argument("--metrics", nargs="+", default=["lpips", "dists"])
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (default 1, as a sweep worker with threads=1)")
    ap.add_argument("--repeat", type=int, default=1, help="time each way this many times, keep the fastest")
    args = ap.parse_args(argv)
    import torch

    from bench import metrics
    from bench.core.device import resolve_device, synchronize
    from bench.perf.metrics import pictures
    from bench.sweep.batch import _deep_values
    from bench.sweep.memory import chunk_size

    torch.set_num_threads(max(1, args.threads))
    device = resolve_device(args.device)
    names = [n for n in metrics.resolve(args.metrics)]
    refs, _, src = pictures(args.kodak, args.images)
    decs = [[_jpeg(r, q) for q in args.points] for r in refs]
    h, w = refs.shape[1:3]
    print(f"{len(refs)} pictures {w}x{h} from {src} x {len(args.points)} points (JPEG q {args.points}); device {device}; "
          f"torch threads {torch.get_num_threads()}; load average {', '.join(f'{v:.2f}' for v in os.getloadavg())}", flush=True)
    print(f"{'metric':10s} {'chunk':>5s} {'per-unit s':>10s} {'batched s':>10s} {'ratio':>6s} {'cpu per-unit':>12s} "
          f"{'cpu batched':>11s}  max |diff|")
    out = {}
    for name in names:
        cols = list(metrics.spec(name).columns)
        metrics.compute(refs[0], decs[0][0], names=[name], device=device, on_error="raise")  # load the network
        size = chunk_size(h * w, [name], device)
        best = {"unit": (np.inf, np.inf), "batched": (np.inf, np.inf)}
        diff = 0.0
        for _ in range(max(1, args.repeat)):
            got = {}
            for way in ("unit", "batched"):
                wall = cpu = 0.0
                vals = []
                for ref, points in zip(refs, decs):
                    _forget_references()
                    synchronize(device)
                    c, t = _cpu(), time.perf_counter()
                    if way == "unit":
                        vals += [metrics.compute(ref, d, names=[name], device=device, on_error="raise")[cols[0]] for d in points]
                    else:
                        for i in range(0, len(points), size):
                            vals += [v[cols[0]] for v in _deep_values(ref, points[i:i + size], [name], "bt709", device)]
                    synchronize(device)
                    wall, cpu = wall + time.perf_counter() - t, cpu + _cpu() - c
                got[way] = np.asarray(vals, dtype=float)
                best[way] = min(best[way], (wall, cpu))
            diff = max(diff, float(np.nanmax(np.abs(got["unit"] - got["batched"]))))
        (uw, uc), (bw, bc) = best["unit"], best["batched"]
        print(f"{name:10s} {size:5d} {uw:10.2f} {bw:10.2f} {uw / bw:5.2f}x {uc:12.2f} {bc:11.2f}  {diff:.1e}", flush=True)
        out[name] = {"unit_s": uw, "batched_s": bw, "unit_cpu_s": uc, "batched_cpu_s": bc, "ratio": uw / bw, "chunk": size,
                     "max_diff": diff}
    return {"metrics": out, "pairs": len(refs) * len(args.points), "device": device, "size": f"{w}x{h}"}


if __name__ == "__main__":
    main()
