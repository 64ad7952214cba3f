"""Time per 768x512 picture per metric (a benchmark script, not a test): prints numbers, asserts nothing.

    bench perf metrics [--kodak ../shared/datasets/kodak] [--images 4] [--batch 4] [--threads N]
                                 [--metrics psnr ms_ssim lpips ... nlpd psnr_hvs vsi] [--device cpu]

Pictures: the first N Kodak pictures (768x512 or 512x768; portrait ones are turned) or, without
Kodak, scikit-image photos resized to 768x512; distorted copies are JPEG quality 30.  Each metric is
called once on one pair first (loading networks and weights: reported apart as `first_s`), then on
all N pairs in batches of `--batch` (NCHW batches for the torch metrics, one ffmpeg process per
batch for VMAF, a loop for FLIP), with the reference-feature reuse off, so every picture costs both
halves.  Reported: seconds per picture = wall time / N, CPU seconds per picture (this process and its
children, all threads: the figure to compare when the machine is shared and wall times stretch), and
torch's thread count.
"""

from __future__ import annotations

import argparse
import io
import os
import time
from pathlib import Path

import numpy as np

ALL = ["psnr", "ms_ssim", "lpips", "lpips_vgg", "dists", "vmaf", "flip",
       "ms_ssim_y", "fsim", "gmsd", "vif", "vifp", "iw_ssim", "nlpd", "psnr_hvs", "vsi"]


def pictures(kodak: str | None, n: int) -> tuple[np.ndarray, np.ndarray, str]:
    from PIL import Image

    refs = []
    if kodak and Path(kodak, "kodim01.png").is_file():
        for p in sorted(Path(kodak).glob("kodim*.png"))[:n]:
            a = np.asarray(Image.open(p).convert("RGB"))
            refs.append(a if a.shape[:2] == (512, 768) else np.ascontiguousarray(np.rot90(a)))
        src = f"Kodak ({kodak})"
    else:
        from skimage import data

        names = ["astronaut", "coffee", "chelsea", "rocket", "immunohistochemistry", "hubble_deep_field"]
        for i in range(n):
            img = Image.fromarray(getattr(data, names[i % len(names)])()[..., :3]).resize((768, 512), Image.BICUBIC)
            refs.append(np.asarray(img))
        src = "scikit-image photos resized to 768x512"
    decs = []
    for r in refs:
        buf = io.BytesIO()
        Image.fromarray(r).save(buf, format="JPEG", quality=30)
        decs.append(np.asarray(Image.open(buf).convert("RGB")))
    return np.stack(refs), np.stack(decs), src


def _cpu() -> float:
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", default=str(Path(__file__).resolve().parents[3] / "shared" / "datasets" / "kodak"))
    ap.add_argument("--images", type=int, default=4)
    ap.add_argument("--batch", type=int, default=4)
    ap.add_argument("--metrics", nargs="+", default=ALL)
    ap.add_argument("--device", default="cpu", help="cpu (default), cuda or auto")
    ap.add_argument("--threads", type=int, default=0, help="torch threads (default: torch's own choice)")
    args = ap.parse_args(argv)
    import torch

    if args.threads > 0:
        torch.set_num_threads(args.threads)

    from bench import metrics

    names = metrics.resolve(args.metrics)
    ref, dec, src = pictures(args.kodak, args.images)
    n = len(ref)
    print(f"{n} pictures {ref.shape[2]}x{ref.shape[1]} from {src}; JPEG q30; batch {args.batch}; device {args.device}; "
          f"torch threads {torch.get_num_threads()}", flush=True)
    print(f"{'metric':10s} {'first_s':>8s} {'s/picture':>10s} {'cpu_s/pic':>10s}  mean value")
    for name in names:
        t = time.perf_counter()
        metrics.compute_batch(ref[:1], dec[:1], names=[name], device=args.device, reuse_ref=False, on_error="raise")
        load = time.perf_counter() - t
        values = {}
        cpu = _cpu()
        t = time.perf_counter()
        for i in range(0, n, args.batch):
            out = metrics.compute_batch(ref[i:i + args.batch], dec[i:i + args.batch], names=[name], device=args.device,
                                        reuse_ref=False, on_error="raise")
            for col in metrics.spec(name).columns:
                values.setdefault(col, []).extend(np.asarray(out[col]).tolist())
        if args.device != "cpu" and torch.cuda.is_available():
            torch.cuda.synchronize()
        per = (time.perf_counter() - t) / n
        cpu_per = (_cpu() - cpu) / n
        first = next(iter(values))
        print(f"{name:10s} {load:8.2f} {per:10.3f} {cpu_per:10.3f}  {first}={np.nanmean(values[first]):.4f}", flush=True)


if __name__ == "__main__":
    main()
