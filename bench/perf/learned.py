"""The CompressAI adapter against CompressAI's own `eval_model` on the same checkpoint and images
(a benchmark script: prints figures, asserts nothing).

    bench perf learned --kodak ../shared/datasets/kodak \
        --checkpoint codecs/demo/bmshj2018-hyperprior-N64-M96-mse-lambda0.013.pth.tar [--images 24]

Per image: bytes of the entropy-coded strings (eval_model counts only those; our file adds a
~17-byte header, reported apart), PSNR-RGB, and codec time (compress + decompress, one thread on
each side: eval_model sets torch.set_num_threads(1)).  eval_model runs with --no-update so both
sides use the checkpoint's own CDF tables.  Also the wall time of each whole run.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", required=True, type=Path)
    ap.add_argument("--checkpoint", required=True, type=Path)
    ap.add_argument("--arch", default="bmshj2018-hyperprior")
    ap.add_argument("--images", type=int, default=24)
    args = ap.parse_args(argv)
    files = sorted(args.kodak.glob("kodim*.png"))[: args.images]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "images"
        data.mkdir()
        for f in files:
            os.symlink(f.resolve(), data / f.name)
        t = time.perf_counter()
        subprocess.run([sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(data), "-a", args.arch,
                        "-p", str(args.checkpoint.resolve()), "--no-update", "--per-image", "-d", str(tmp / "eval"),
                        "-o", "summary.json"], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wall_theirs = time.perf_counter() - t
        theirs = {}
        for js in (tmp / "eval").rglob("kodim*.json"):
            d = json.loads(js.read_text())
            theirs[d["source"]] = d["results"]

        import torch

        from bench import codecs, metrics
        from bench.data.images import load_rgb

        torch.set_num_threads(1)
        t = time.perf_counter()
        adapter = codecs.make("compressai", arch=args.arch, weights="checkpoint", checkpoints={1: str(args.checkpoint)},
                              device="cpu", threads=1)
        ours = {}
        warm = load_rgb(str(files[0]))[:64, :64]  # first-call costs (allocator, kernels) belong to neither side
        adapter.decode(adapter.encode(warm, 1, tmp), tmp)
        for f in files:
            rgb = load_rgb(str(f))
            enc = adapter.encode(rgb, 1, tmp)
            dec = adapter.decode(enc, tmp)
            m = metrics.compute(rgb, dec.rgb)
            ours[f.stem] = {"payload": enc.extra["payload_bytes"], "bytes": enc.path.stat().st_size, "psnr": m["psnr_rgb"],
                            "ms_ssim": m["ms_ssim_rgb"], "codec_s": enc.timing.wall + dec.timing.wall, "check": dec.extra.get("decode_check")}
        wall_ours = time.perf_counter() - t
    print(f"{'image':8} {'payload B ours/theirs':>24} {'PSNR ours':>10} {'PSNR theirs':>12} {'codec s ours':>13} {'theirs':>8}")
    same_bytes, dpsnr, ratios = 0, [], []
    for name in sorted(ours):
        o, r = ours[name], theirs[name]
        their_bytes = round(r["bpp"] * load_pixels(args.kodak / f"{name}.png") / 8)
        same_bytes += o["payload"] == their_bytes
        dpsnr.append(abs(o["psnr"] - r["psnr-rgb"]))
        their_s = r["encoding_time"] + r["decoding_time"]
        ratios.append(o["codec_s"] / their_s)
        print(f"{name:8} {o['payload']:>11}/{their_bytes:<12} {o['psnr']:>10.4f} {r['psnr-rgb']:>12.4f} {o['codec_s']:>13.3f} {their_s:>8.3f}")
    print(f"identical payload bytes: {same_bytes}/{len(ours)}; header adds {ours[name]['bytes'] - ours[name]['payload']} bytes per file")
    print(f"max |PSNR difference|: {max(dpsnr):.2e} dB; decode check passed on {sum(bool(o['check']) for o in ours.values())}/{len(ours)}")
    print(f"codec time ratio ours/eval_model (compress+decompress, 1 thread): median {np.median(ratios):.3f}, max {max(ratios):.3f}")
    print(f"wall, whole run: ours {wall_ours:.1f} s (incl. encoder-side check and all metrics) vs eval_model {wall_theirs:.1f} s "
          f"-> ratio {wall_ours / wall_theirs:.3f}")
    return 0


def load_pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.size[0] * im.size[1]


if __name__ == "__main__":
    raise SystemExit(main())
