"""The CompressAI adapter against CompressAI's own `eval_model` on the same checkpoint and images
(a benchmark script: prints figures beside their targets, asserts nothing).

    bench perf learned --kodak ../shared/datasets/kodak \
        --checkpoint codecs/demo/bmshj2018-hyperprior-N64-M96-mse-lambda0.013.pth.tar [--images 24] [--repeat 2]

Both sides run as fresh processes on the CPU, one thread each (eval_model sets torch.set_num_threads(1)),
and their whole wall time is compared (interpreter start, imports, model loading, every image):
 - theirs: `python -m compressai.utils.eval_model checkpoint ... --no-update --per-image` (both sides use
   the checkpoint's own CDF tables): compress, decompress, PSNR and MS-SSIM per image;
 - ours: the adapter as a sweep runs it, with its defaults: compress (warm-up and complexity count
   on the first picture of each size), the decode in its decoder process, the decode check, and
   bench's metrics (PSNR-RGB/Y/U/V/YUV, MS-SSIM).
Per image: bytes of the entropy-coded strings (eval_model counts only those; our file adds a small
header, reported apart), PSNR-RGB, and codec time (compress + decompress; ours timed after warm-up).
`--repeat N` runs each side N times, alternating, and keeps the best of each (a shared machine's
load only ever adds time).  Targets: whole-run ratio <= 1, median codec-time ratio <= 1.

    bench perf learned --complexity [ARCH[:N:M] ...] [--size 768x512]

prints parameters and kMAC/px per part of CompressAI architectures with locally initialised weights
(default: bmshj2018-factorized and bmshj2018-hyperprior with N=128, M=192), counted on compress() and
decompress() of a random picture by both counters, side by side.
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

_T0 = time.perf_counter()  # this process's start, as near as Python sees it


def _ours(args) -> int:
    """The measured side of `ours`: one fresh process, the adapter over the images."""
    from bench import codecs

    adapter = codecs.make("compressai", arch=args.arch, weights="checkpoint", checkpoints={1: str(args.checkpoint)},
                          device="cpu", threads=1)
    adapter.check()  # starts the decoder process, as a sweep's plan does
    from bench import metrics
    from bench.data.images import load_rgb

    ready = time.perf_counter() - _T0  # imports done (and the decoder process started)
    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for f in sorted(Path(args.images_dir).glob("kodim*.png")):
            rgb = load_rgb(str(f))
            enc = adapter.encode(rgb, 1, tmp)
            dec = adapter.decode(enc, tmp)
            m = metrics.compute(rgb, dec.rgb)
            out[f.stem] = {"payload": enc.extra["payload_bytes"], "bytes": enc.path.stat().st_size, "psnr": m["psnr_rgb"],
                           "codec_s": enc.timing.wall + dec.timing.wall, "check": dec.extra.get("decode_check"),
                           "warmup_s": enc.extra.get("encode_warmup_s", 0) + (dec.extra.get("decode_warmup_s") or 0),
                           "check_by": dec.extra.get("decode_check_by_cpu"),
                           "kmac_enc": enc.extra.get("kmac_enc_torch"), "kmac_enc_fvcore": enc.extra.get("kmac_enc_fvcore"),
                           "kmac_dec": dec.extra.get("kmac_dec_torch"), "kmac_dec_fvcore": dec.extra.get("kmac_dec_fvcore")}
    Path(args.out).write_text(json.dumps({"images": out, "ready_s": ready}))
    return 0


def _complexity(specs: list[str], size: str) -> int:
    import torch

    from bench.codecs.learned.complexity import Probe, parameter_counts
    from bench.codecs.learned.models import init_model

    torch.set_num_threads(1)
    w, h = (int(v) for v in size.lower().split("x"))
    px = w * h
    for spec in specs:
        arch, *nm = spec.split(":")
        N, M = (int(nm[0]), int(nm[1]) if len(nm) > 1 else None) if nm else (None, None)
        model = init_model(arch, 0, N, M, quality=1)
        kw = {}
        if arch.endswith("-vbr"):
            scale = 1 / torch.tensor(4.0)
            kw = {"stage": 2, "s": 0, "inputscale": scale}
            if hasattr(model.entropy_bottleneck, "update_variable"):
                model.update(force=True, scale=scale)
        x = torch.rand(1, 3, h, w, generator=torch.Generator().manual_seed(0))
        pe = Probe(model, count=True)
        out = pe.run(lambda: model.compress(x, **kw))
        pd_ = Probe(model, count=True)
        pd_.run(lambda: model.decompress(out["strings"], out["shape"], **kw))
        enc, dec = pe.counts(), pd_.counts()
        params = parameter_counts(model)
        dims = {k: getattr(model, k) for k in ("N", "M") if isinstance(getattr(model, k, None), int)}
        print(f"{arch} {' '.join(f'{k}={v}' for k, v in dims.items())} at {w}x{h}, locally initialised: "
              f"{sum(params.values()) / 1e6:.3f} M parameters")
        parts = sorted(set(params) | set(enc["torch"]) | set(dec["torch"]) | set(enc["fvcore"]) | set(dec["fvcore"]))
        print(f"  {'part':22} {'params M':>9} {'enc kMAC/px torch':>18} {'fvcore':>8} {'dec kMAC/px torch':>18} {'fvcore':>8}")
        for part in parts + ["total"]:
            def k(c, counter):
                v = sum(sum(o.values()) for o in c[counter].values()) if part == "total" else sum(c[counter].get(part, {}).values())
                return v / px / 1e3
            pm = sum(params.values()) if part == "total" else params.get(part, 0)
            print(f"  {part:22} {pm / 1e6:>9.4f} {k(enc, 'torch'):>18.3f} {k(enc, 'fvcore'):>8.3f} {k(dec, 'torch'):>18.3f} {k(dec, 'fvcore'):>8.3f}")
        for name, c in (("encoder", enc), ("decoder", dec)):
            t = sum(sum(o.values()) for o in c["torch"].values())
            f = sum(sum(o.values()) for o in c["fvcore"].values())
            print(f"  {name}: counters {'agree' if t == f else f'differ by {abs(t - f) / max(t, f):.2%}'}" + (f"; {'; '.join(c['notes'])}" if c["notes"] else ""))
    return 0


def _theirs(data: Path, checkpoint: Path, arch: str, out_dir: Path) -> tuple[float, dict]:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(data), "-a", arch,
                    "-p", str(checkpoint.resolve()), "--no-update", "--per-image", "-d", str(out_dir), "-o", "summary.json"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    res = {}
    for js in out_dir.rglob("kodim*.json"):
        d = json.loads(js.read_text())
        res[d["source"]] = d["results"]
    return wall, res


def _run_ours(data: Path, args, out: Path) -> tuple[float, float, dict]:
    """(whole wall, wall after the imports, per image)."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.perf.learned", "--ours", "--kodak", str(data), "--checkpoint", str(args.checkpoint.resolve()),
                    "--arch", args.arch, "--out", str(out)], check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t
    res = json.loads(out.read_text())
    return wall, wall - res["ready_s"], res["images"]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", type=Path)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--arch", default="bmshj2018-hyperprior")
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=1, help="runs of each side, alternating; the best of each is kept")
    ap.add_argument("--complexity", nargs="*", metavar="ARCH[:N:M]", help="print the complexity of these architectures and exit")
    ap.add_argument("--size", default="768x512", help="picture size for --complexity (WxH)")
    ap.add_argument("--ours", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.complexity is not None:
        return _complexity(args.complexity or ["bmshj2018-factorized:128:192", "bmshj2018-hyperprior:128:192"], args.size)
    if not args.kodak or not args.checkpoint:
        ap.error("--kodak and --checkpoint are required (or --complexity)")
    if args.ours:
        args.images_dir = args.kodak
        return _ours(args)
    files = sorted(args.kodak.glob("kodim*.png"))[: args.images]
    if not files:
        print(f"no kodim*.png in {args.kodak}", file=sys.stderr)
        return 2
    walls_theirs, walls_ours, walls_units, theirs, ours = [], [], [], {}, {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "images"
        data.mkdir()
        for f in files:
            os.symlink(f.resolve(), data / f.name)
        for i in range(max(1, args.repeat)):
            w, r = _theirs(data, args.checkpoint, args.arch, tmp / f"eval{i}")
            walls_theirs.append(w)
            for k, v in r.items():  # best of the runs, per image
                if k not in theirs or v["encoding_time"] + v["decoding_time"] < theirs[k]["encoding_time"] + theirs[k]["decoding_time"]:
                    theirs[k] = v
            w, wu, r = _run_ours(data, args, tmp / f"ours{i}.json")
            walls_ours.append(w)
            walls_units.append(wu)
            for k, v in r.items():
                if k not in ours or v["codec_s"] < ours[k]["codec_s"]:
                    ours[k] = v
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
    last = ours[sorted(ours)[-1]]
    by = sorted({str(o.get("check_by")) for o in ours.values()})
    print(f"identical payload bytes: {same_bytes}/{len(ours)}; header adds {last['bytes'] - last['payload']} bytes per file")
    print(f"max |PSNR difference|: {max(dpsnr):.2e} dB; decode check (fresh decoder process) passed on "
          f"{sum(bool(o['check']) for o in ours.values())}/{len(ours)} (by {', '.join(by)})")
    print(f"complexity of {sorted(ours)[-1]}: encoder {last['kmac_enc']:.2f} kMAC/px (fvcore {last['kmac_enc_fvcore']:.2f}), "
          f"decoder {last['kmac_dec']:.2f} (fvcore {last['kmac_dec_fvcore']:.2f})" if last.get("kmac_enc") is not None else "no complexity")
    th_sum = sum(r["encoding_time"] + r["decoding_time"] for r in theirs.values())
    print(f"codec time summed over the images (best run per image): ours {sum(o['codec_s'] for o in ours.values()):.1f} s "
          f"(+ {sum(o.get('warmup_s', 0) for o in ours.values()):.1f} s untimed warm-up and complexity counts, first picture of "
          f"each size) vs eval_model {th_sum:.1f} s")
    print(f"codec time ratio ours/eval_model (compress+decompress, 1 thread, best of {max(1, args.repeat)}): "
          f"median {np.median(ratios):.3f}, max {max(ratios):.3f}   [target: median <= 1]")
    print(f"wall, whole run (fresh process each; best of {max(1, args.repeat)}): ours {min(walls_ours):.1f} s vs eval_model "
          f"{min(walls_theirs):.1f} s -> ratio {min(walls_ours) / min(walls_theirs):.3f}   [target: <= 1]")
    print(f"  every run: ours {', '.join(f'{w:.1f}' for w in walls_ours)} s; eval_model {', '.join(f'{w:.1f}' for w in walls_theirs)} s")
    print(f"ours after its imports (adapter, decoder process, every image: how the earlier figure was taken): "
          f"{min(walls_units):.1f} s -> ratio {min(walls_units) / min(walls_theirs):.3f}")
    return 0


def load_pixels(path: Path) -> int:
    from PIL import Image

    with Image.open(path) as im:
        return im.size[0] * im.size[1]


if __name__ == "__main__":
    raise SystemExit(main())
