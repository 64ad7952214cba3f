"""Peak memory of one unit on a large picture (a benchmark, not a test): prints figures beside their
targets; asserts nothing.

    bench perf memory [--size 12000x8000] [--codecs jpeg x265_444_10bit] [--x265-preset ultrafast]
                      [--picture PATH] [--metrics psnr ms_ssim]

The picture: generated once (a bundled photo scaled up, with fine noise so that codecs have texture to
code) into the user cache (`$BENCH_CACHE/perf/`), never into the checkout; `--picture` takes your own.
Each unit runs alone in a fresh process, exactly as a sweep worker runs it (`run_unit`: load, encode,
decode from the file, metrics, row), and reports the process's peak RSS (VmHWM) and, apart, the
peak RSS of its largest child (the encoder or decoder process of the ffmpeg codecs: VmHWM read every
20 ms while it runs).  Target: at most
40 bytes per pixel for the unit's process (12000x8000: ~3.8 GB).  The x265 preset changes only the
encoder process's memory and time, so the benchmark uses a fast one unless told otherwise.

Also prints what `workers=auto` would start for this picture (bench.sweep.memory).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

TARGET_BYTES_PER_PIXEL = 40

_CHILD = r"""
import json, os, resource, sys, threading, time
from pathlib import Path
def hwm():  # this process's own peak RSS in KB: VmHWM is per address space, ru_maxrss keeps the parent's from fork
    try:
        return int(next(l for l in open("/proc/self/status") if l.startswith("VmHWM:")).split()[1])
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
CHILD_PEAK = [0]
def _watch():  # the encoder/decoder processes' own peak (VmHWM): ru_maxrss of children counts the parent's pages at fork
    me = os.getpid()
    while True:
        try:
            kids = []
            for tid in os.listdir(f"/proc/{me}/task"):
                kids += open(f"/proc/{me}/task/{tid}/children").read().split()
            for k in kids:
                for line in open(f"/proc/{k}/status"):
                    if line.startswith("VmHWM:"):
                        CHILD_PEAK[0] = max(CHILD_PEAK[0], int(line.split()[1]))
        except OSError:
            pass
        time.sleep(0.02)
from omegaconf import OmegaConf
from bench.sweep.job import codec_config, metric_names
from bench.sweep.units import plan, run_unit
from bench.results.store import RowStore
from bench.data.datasets import ImageRef
from bench.core.files import sha256_file
import bench.metrics, numpy, PIL.Image  # the imports every worker holds
args = json.loads(sys.argv[1])
cfg = OmegaConf.create(args["cfg"])
import torch  # the MS-SSIM worker's import, counted in the baseline as in a sweep worker
torch.set_num_threads(1)
baseline = hwm()
image = ImageRef(Path(args["picture"]).stem, args["picture"], sha256_file(args["picture"]))
store = RowStore(args["out"])
units, _ = plan("perf", [image], codec_config(cfg), store, threads=1, metric_names=metric_names(cfg), metric_device="cpu",
                keep_bitstreams=False)
threading.Thread(target=_watch, daemon=True).start()  # after planning: its git processes are not the unit's
t = time.perf_counter()
row = run_unit(units[0])
wall = time.perf_counter() - t
peak = hwm()
child = CHILD_PEAK[0]
print("RESULT " + json.dumps({"status": row["status"], "error": row.get("error", ""), "peak_kb": peak, "baseline_kb": baseline,
                              "child_kb": child, "wall_s": wall, "bpp": row.get("bpp"), "psnr_rgb": row.get("psnr_rgb"),
                              "ms_ssim_rgb": row.get("ms_ssim_rgb"), "metrics_s": row.get("metrics_s")}))
"""


def make_picture(width: int, height: int, path: Path) -> Path:
    """A photo-like picture of width x height (PNG), built in strips: a bundled photo scaled up
    bicubically plus fine noise.  Kept in the user cache and reused."""
    import numpy as np
    from PIL import Image
    from skimage import data

    if path.is_file():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    src = Image.fromarray(data.astronaut())
    out = np.empty((height, width, 3), np.uint8)
    rng = np.random.default_rng(0)
    strip = 512
    big_src = src.resize((width // 8, height // 8), Image.BICUBIC)  # 8x smaller, then each strip 8x up
    for r0 in range(0, height, strip):
        r1 = min(height, r0 + strip)
        crop = big_src.crop((0, r0 // 8, width // 8, -(-r1 // 8)))
        up = np.asarray(crop.resize((width, (crop.height) * 8), Image.BICUBIC))[: r1 - r0]
        noise = rng.integers(-6, 7, up.shape, dtype=np.int16)
        out[r0:r1] = np.clip(up.astype(np.int16) + noise, 0, 255).astype(np.uint8)
    tmp = path.with_suffix(".part.png")
    Image.fromarray(out).save(tmp, compress_level=1)
    tmp.replace(path)
    return path


def measure(picture: Path, codec: str, overrides: list[str], metrics: list[str]) -> dict:
    from bench.cli.common import compose
    from omegaconf import OmegaConf

    with tempfile.TemporaryDirectory(prefix="bench-perf-memory-") as out:
        cfg = compose([f"codec={codec}", f"metrics=[{','.join(metrics)}]", *overrides])
        args = {"cfg": {"codec": OmegaConf.to_container(cfg.codec, resolve=True), "metrics": list(cfg.metrics)},
                "picture": str(picture), "out": out}
        proc = subprocess.run([sys.executable, "-c", _CHILD, json.dumps(args)], capture_output=True, text=True)
    line = next((ln for ln in proc.stdout.splitlines() if ln.startswith("RESULT ")), None)
    if proc.returncode != 0 or line is None:
        raise SystemExit(f"{codec}: the unit's process failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-3:]}")
    return json.loads(line[7:])


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="12000x8000", help="WIDTHxHEIGHT of the generated picture")
    ap.add_argument("--picture", type=Path, help="your own picture instead of the generated one")
    ap.add_argument("--codecs", nargs="+", default=["jpeg", "x265_444_10bit"])
    ap.add_argument("--x265-preset", default="ultrafast")
    ap.add_argument("--metrics", nargs="+", default=["psnr", "ms_ssim"])
    args = ap.parse_args(argv)
    from PIL import Image

    from bench.core.assets import cache_dir
    from bench.sweep.memory import estimate, worker_budget

    if args.picture:
        picture = args.picture
    else:
        w, h = (int(v) for v in args.size.lower().split("x"))
        t = time.perf_counter()
        picture = make_picture(w, h, cache_dir("perf", f"picture-{w}x{h}.png"))
        print(f"picture: {picture} ({time.perf_counter() - t:.0f} s to make or find)", flush=True)
    with Image.open(picture) as im:
        w, h = im.size
    pixels = w * h
    print(f"{w}x{h} = {pixels / 1e6:.1f} MP; metrics {', '.join(args.metrics)}; one unit per fresh process", flush=True)
    out = {"size": f"{w}x{h}", "pixels": pixels, "bytes_per_pixel": {}}
    for codec in args.codecs:
        over = [f"codec.params.preset={args.x265_preset}"] if codec.startswith("x265") else []
        over += ["codec.points=[" + ("32" if codec.startswith(("x265", "vvenc")) else "75") + "]"]
        r = measure(picture, codec, over, args.metrics)
        if r["status"] != "ok":
            print(f"{codec}: unit failed: {r['error']}")
            continue
        peak, base, child = r["peak_kb"] * 1024, r["baseline_kb"] * 1024, r["child_kb"] * 1024
        est = estimate(codec_adapter(codec), args.metrics, pixels)
        out["bytes_per_pixel"][codec] = peak / pixels
        print(f"{codec}: peak RSS {peak / 1e9:.2f} GB = {peak / pixels:.1f} bytes/pixel (target <= {TARGET_BYTES_PER_PIXEL}); "
              f"imports alone {base / 1e9:.2f} GB; above them {(peak - base) / pixels:.1f} bytes/pixel; "
              f"largest child process {child / 1e9:.2f} GB ({child / pixels:.1f} bytes/pixel); unit {r['wall_s']:.0f} s "
              f"(metrics {r['metrics_s']:.1f} s); workers=auto estimate {est / 1e9:.2f} GB per worker", flush=True)
    budget = worker_budget()
    print(f"memory available now: {budget / 1e9:.1f} GB (MemAvailable, capped by the cgroup limit)")
    return out


def codec_adapter(codec: str) -> str:
    from bench.cli.common import compose

    return str(compose([f"codec={codec}"]).codec.adapter)


if __name__ == "__main__":
    main()
