"""Every performance figure of issue 13 beside its target, in one run (a benchmark, not a test).

    bench perf all --kodak ../shared/datasets/kodak [--quick]

Runs, in turn: `bench perf fidelity` (PSNR family, MS-SSIM against pytorch-msssim, one thread),
`bench perf sweep --only-jpeg` (the Kodak JPEG sweep against CompressAI's bench, and its rerun),
`bench perf rerun` (unchanged sweeps), `bench perf memory` (one unit on 12000x8000), `bench perf
tables` (a million rows) and `bench perf deep` (LPIPS-alex and DISTS per unit against batched across 4 rate
points of 2 Kodak pictures), then prints one summary table.  About 10 minutes on 2 quiet cores, more
the first time (the default sweep and the large picture are made once and kept in the user cache).
`--quick` shrinks the slow parts (4000x3000 picture, 200,000 rows, no default-job rerun): a smoke
run, not the published figures.  Run it on a quiet machine: the timings are wall-clock.
"""

from __future__ import annotations

import argparse
import os
import time


def _load() -> str:
    try:
        return ", ".join(f"{v:.2f}" for v in os.getloadavg())
    except OSError:
        return "?"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", required=True, help="folder with kodim01.png .. kodim24.png")
    ap.add_argument("--quick", action="store_true", help="smaller picture and table, no default-job rerun (a smoke run)")
    args = ap.parse_args(argv)
    from bench.perf import deep, fidelity, memory, rerun, sweep, tables

    print(f"load average at start: {_load()} (cores: {os.cpu_count()})", flush=True)
    t0 = time.perf_counter()
    rows = []

    def section(title):
        print(f"\n== {title} (load {_load()})", flush=True)

    section("metrics, one thread")
    f = fidelity.main(["--kodak", args.kodak])
    rows += [("PSNR family, 768x512, one thread", "<= 5 ms", f"{f['psnr_ms']:.1f} ms", f["psnr_ms"] <= 5),
             ("MS-SSIM speed-up over pytorch-msssim (documented NCHW call): first / next rate points", ">= 3x",
              "{:.1f}x / {:.1f}x".format(*f["speedup_lib_doc"]), min(f["speedup_lib_doc"]) >= 3),
             ("MS-SSIM speed-up over pytorch-msssim (CompressAI's channels-last call): first / next", ">= 3x",
              "{:.1f}x / {:.1f}x".format(*f["speedup_lib_cai"]), min(f["speedup_lib_cai"]) >= 3),
             ("MS-SSIM vs pytorch-msssim, largest |difference|", "<= 1e-6", f"{f['worst_diff']:.1e}", f["worst_diff"] <= 1e-6)]
    section("Kodak JPEG sweep against CompressAI's bench")
    s = sweep.main(["--kodak", args.kodak, "--only-jpeg"])
    rows += [("Kodak JPEG sweep: CompressAI -j2 / bench -j2 (rows and tables)", ">= 3x", f"{s['compressai'] / s['rows']:.2f}x "
              f"({s['compressai']:.1f} / {s['rows']:.1f} s)", s["compressai"] / s["rows"] >= 3),
             ("the same with RD plots and report", "(>= 3x)", f"{s['compressai'] / s['full']:.2f}x ({s['full']:.1f} s)",
              s["compressai"] / s["full"] >= 3),
             ("rerun of the unchanged Kodak JPEG sweep", "< 2 s", f"{s['rerun']:.2f} s", s["rerun"] < 2)]
    section("reruns of unchanged sweeps")
    r = rerun.main(["--skip-default"] if args.quick else [])
    rows += [(f"rerun: {k}", "< 2 s", f"{v:.2f} s", v < 2) for k, v in r.items()]
    section("memory of one unit")
    m = memory.main(["--size", "4000x3000"] if args.quick else [])
    rows += [(f"peak RSS, {k} unit with PSNR + MS-SSIM, {m['size']}", "<= 40 B/px", f"{v:.1f} B/px ({v * m['pixels'] / 1e9:.2f} GB)",
              v <= 40 if not args.quick else "n/a (the target is set for 12000x8000)") for k, v in m["bytes_per_pixel"].items()]
    section("tables at scale")
    t = tables.main(["--rows", "200000", "--jobs", "20"] if args.quick else [])
    rows += [(f"load the frame of {t['rows']:,} rows", "< 5 s", f"{t['load_s']:.2f} s", t["load_s"] < 5),
             (f"rebuild the tables of {t['rows']:,} rows", "< 10 s", f"{t['rebuild_s']:.2f} s", t["rebuild_s"] < 10)]
    section("deep metrics batched across the rate points of an image (metric_batch)")
    d = deep.main(["--kodak", args.kodak] + (["--metrics", "lpips"] if args.quick else []))
    rows += [(f"{k} on {d['pairs']} pairs ({d['size']}, {d['device']}): per unit / batched", "(no target)",
              f"{v['unit_s']:.2f} / {v['batched_s']:.2f} s = {v['ratio']:.2f}x", "n/a") for k, v in d["metrics"].items()]
    rows += [(f"{k} batched equals per unit, largest |difference|", "<= 1e-6", f"{v['max_diff']:.1e}", v["max_diff"] <= 1e-6)
             for k, v in d["metrics"].items()]
    width = max(len(r[0]) for r in rows)
    print(f"\n== summary ({time.perf_counter() - t0:.0f} s; load average now {_load()})")
    print(f"{'figure':<{width}}  {'target':<10}  {'measured':<28}  met")
    for name, target, value, ok in rows:
        print(f"{name:<{width}}  {target:<10}  {value:<28}  {ok if isinstance(ok, str) else 'yes' if ok else 'NO'}")
    return 0


if __name__ == "__main__":
    main()
