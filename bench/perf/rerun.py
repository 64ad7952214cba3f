"""Reruns of unchanged sweeps (a benchmark, not a test): prints figures beside their target; asserts
nothing.

    bench perf rerun [--dir DIR] [--repeat 3] [--skip-default]

Each sweep is run once to completion (kept in `--dir`, default `$BENCH_CACHE/perf/rerun`, so a second
benchmark skips that), then the same command is run again `--repeat` times as a fresh process, timed
from start to exit; the median is reported.  Nothing is left to do, so every second is start-up,
planning and checking that the derived files are up to date.  Target < 2 s.
  1. one codec on two photos: `bench dataset=ci codec=jpeg`
  2. the default job, `bench` with no arguments: five codecs (x265 4:4:4 and 4:2:0, vvenc, JPEG, the
     demo learned codec) on the bundled photos (the first run takes minutes on 2 cores).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

TARGET_S = 2.0


def _run(args: list[str]) -> float:
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bench", *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    if proc.returncode != 0:
        raise SystemExit(f"bench {' '.join(args)} failed: {proc.stderr.strip().splitlines()[-3:]}")
    return time.perf_counter() - t


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--dir", type=Path, help="where the sweeps are kept (default: $BENCH_CACHE/perf/rerun)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--skip-default", action="store_true", help="only the one-codec sweep")
    args = ap.parse_args(argv)
    from bench.core.assets import cache_dir

    root = (args.dir or cache_dir("perf", "rerun")).resolve()
    cases = {"one codec on two photos (bench dataset=ci codec=jpeg)": ["dataset=ci", "codec=jpeg", f"results_root={root}",
                                                                       "sweep=ci-jpeg"]}
    if not args.skip_default:
        cases["the default job, five codecs on the bundled photos (bench)"] = [f"results_root={root}"]
    out = {}
    for name, cmd in cases.items():
        first = _run(cmd)
        times = [_run(cmd) for _ in range(args.repeat)]
        out[name] = statistics.median(times)
        print(f"rerun of {name}: {out[name]:.2f} s median of {args.repeat} ({', '.join(f'{t:.2f}' for t in times)}; "
              f"first run {first:.0f} s) (target < {TARGET_S:g} s)", flush=True)
    return out


if __name__ == "__main__":
    main()
