"""The CompressAI adapter against CompressAI's own `eval_model` on the same checkpoint and images
(a benchmark script: prints figures beside their targets, asserts nothing).

    bench perf learned --kodak ../shared/datasets/kodak \
        --checkpoint codecs/demo/bmshj2018-hyperprior-N96-M128-mse-lambda0.013.pth.tar [--images 24] [--repeat 3]

On the CPU, one thread on each side (eval_model sets torch.set_num_threads(1)); eval_model with
--no-update, so both sides use the checkpoint's own CDF tables.  Two comparisons:

1. Codec time per image, interleaved: in one process, for each image, eval_model's own
   `inference()` (compressai.utils.eval_model: compress and decompress, its timing) then the adapter's
   encode() and decode() (compress timed here after its warm-up, decompress in its decoder process),
   `--repeat` passes, the best of each per image.  Interleaving puts both under the same load; the
   strings must be byte-identical and PSNR equal.  Target: median ratio <= 1.
2. The whole run, each side a fresh process (interpreter start, imports, weights, every image):
   `python -m compressai.utils.eval_model checkpoint ... --per-image` (compress, decompress, PSNR,
   MS-SSIM) against the adapter as a sweep runs it with its defaults (warm-up and complexity count on
   the first picture of each size, the decode in a decoder process, the decode check, bench's PSNR
   family and MS-SSIM).  `--repeat` runs them alternately; pairs run back to back.  Target: ratio <= 1.
   Also: ours after its imports (how the figure before this change was taken).

On a machine other jobs share, wall times of separate runs vary by tens of percent: read the pairs.

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


def _adapter(args):
    from bench import codecs

    return codecs.make("compressai", arch=args.arch, weights="checkpoint", checkpoints={1: str(args.checkpoint)},
                       device="cpu", threads=1)


def _files(folder: Path, n: int) -> list[Path]:
    return sorted(Path(folder).glob("kodim*.png"))[:n]


def _ours(args) -> int:
    """The measured side of the whole-run comparison: one fresh process, the adapter over the images."""
    adapter = _adapter(args)
    adapter.check()  # starts the decoder process, as a sweep's plan does
    from bench import metrics
    from bench.data.images import load_rgb

    ready = time.perf_counter() - _T0  # imports done (and the decoder process started)
    n = 0
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for f in _files(args.kodak, args.images):
            rgb = load_rgb(str(f))
            enc = adapter.encode(rgb, 1, tmp)
            dec = adapter.decode(enc, tmp)
            metrics.compute(rgb, dec.rgb)
            n += bool(dec.extra.get("decode_check"))
    Path(args.out).write_text(json.dumps({"ready_s": ready, "checked": n}))
    return 0


def _interleaved(args) -> dict:
    """Per image: eval_model's inference() and the adapter, one after the other, `repeat` passes."""
    import torch

    import compressai.utils.eval_model.__main__ as em
    from bench import metrics
    from bench.data.images import load_rgb

    torch.set_num_threads(1)
    adapter = _adapter(args)
    adapter.check()
    model = em.load_checkpoint(args.arch, True, str(args.checkpoint))
    out: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        for _ in range(max(1, args.repeat)):
            for f in _files(args.kodak, args.images):
                x = em.read_image(f)
                theirs = em.inference(model, x)
                rgb = load_rgb(str(f))
                enc = adapter.encode(rgb, 1, tmp)
                dec = adapter.decode(enc, tmp)
                o = out.setdefault(f.stem, {k: np.inf for k in ("ours_s", "theirs_s", "ours_c", "ours_d", "theirs_c", "theirs_d")})
                o["ours_s"] = min(o["ours_s"], enc.timing.wall + dec.timing.wall)
                o["theirs_s"] = min(o["theirs_s"], theirs["encoding_time"] + theirs["decoding_time"])
                for k, v in (("ours_c", enc.timing.wall), ("ours_d", dec.timing.wall), ("theirs_c", theirs["encoding_time"]),
                             ("theirs_d", theirs["decoding_time"])):
                    o[k] = min(o[k], v)
                o.update({"payload": enc.extra["payload_bytes"], "bytes": enc.path.stat().st_size,
                          "their_bytes": round(theirs["bpp"] * rgb.shape[0] * rgb.shape[1] / 8),
                          "psnr": metrics.psnr(rgb, dec.rgb), "their_psnr": theirs["psnr-rgb"],
                          "check": dec.extra.get("decode_check"), "by": dec.extra.get("decode_check_by_cpu"),
                          "warmup_s": max(o.get("warmup_s", 0.0),
                                          enc.extra.get("encode_warmup_s", 0) + (dec.extra.get("decode_warmup_s") or 0)),
                          "kmac": (enc.extra.get("kmac_enc_torch"), enc.extra.get("kmac_enc_fvcore"),
                                   dec.extra.get("kmac_dec_torch"), dec.extra.get("kmac_dec_fvcore"))})
    return out


def _whole_theirs(data: Path, args, out_dir: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "compressai.utils.eval_model", "checkpoint", str(data), "-a", args.arch,
                    "-p", str(args.checkpoint.resolve()), "--no-update", "--per-image", "-d", str(out_dir), "-o", "summary.json"],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def _whole_ours(data: Path, args, out: Path) -> tuple[float, float]:
    """(whole wall, wall after the imports)."""
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "bench.perf.learned", "--ours", "--kodak", str(data),
                    "--checkpoint", str(args.checkpoint.resolve()), "--arch", args.arch, "--images", str(args.images),
                    "--out", str(out)], check=True,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "OMP_NUM_THREADS": "1"})
    wall = time.perf_counter() - t
    return wall, wall - json.loads(out.read_text())["ready_s"]


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
            print(f"  {part:22} {pm / 1e6:>9.4f} {k(enc, 'torch'):>18.3f} {k(enc, 'fvcore'):>8.3f} "
                  f"{k(dec, 'torch'):>18.3f} {k(dec, 'fvcore'):>8.3f}")
        for name, c in (("encoder", enc), ("decoder", dec)):
            t = sum(sum(o.values()) for o in c["torch"].values())
            f = sum(sum(o.values()) for o in c["fvcore"].values())
            print(f"  {name}: counters {'agree' if t == f else f'differ by {abs(t - f) / max(t, f):.2%}'}"
                  + (f"; {'; '.join(c['notes'])}" if c["notes"] else ""))
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--kodak", type=Path)
    ap.add_argument("--checkpoint", type=Path)
    ap.add_argument("--arch", default="bmshj2018-hyperprior")
    ap.add_argument("--images", type=int, default=24)
    ap.add_argument("--repeat", type=int, default=1, help="passes of the interleaved comparison, whole runs of each side")
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
        return _ours(args)
    files = _files(args.kodak, args.images)
    if not files:
        print(f"no kodim*.png in {args.kodak}", file=sys.stderr)
        return 2

    per = _interleaved(args)
    print(f"1. codec time per image, interleaved with eval_model's inference() (best of {max(1, args.repeat)} passes, 1 thread)")
    print(f"{'image':8} {'payload B ours/theirs':>24} {'PSNR ours':>10} {'PSNR theirs':>12} {'codec s ours':>13} {'theirs':>8}")
    for name, o in sorted(per.items()):
        print(f"{name:8} {o['payload']:>11}/{o['their_bytes']:<12} {o['psnr']:>10.4f} {o['their_psnr']:>12.4f} "
              f"{o['ours_s']:>13.3f} {o['theirs_s']:>8.3f}")
    ratios = [o["ours_s"] / o["theirs_s"] for o in per.values()]
    last = per[sorted(per)[-1]]
    same = sum(o["payload"] == o["their_bytes"] for o in per.values())
    print(f"identical payload bytes: {same}/{len(per)}; header adds {last['bytes'] - last['payload']} bytes per file; "
          f"max |PSNR difference| {max(abs(o['psnr'] - o['their_psnr']) for o in per.values()):.2e} dB")
    print(f"decode check in the decoder process passed on {sum(bool(o['check']) for o in per.values())}/{len(per)} "
          f"(by {', '.join(sorted({str(o['by']) for o in per.values()}))})")
    kt, kf, dt, df = last["kmac"]
    if kt is not None:
        print(f"complexity ({sorted(per)[-1]}): encoder {kt:.2f} kMAC/px (fvcore {kf:.2f}), decoder {dt:.2f} (fvcore {df:.2f})")
    ours_sum, theirs_sum = sum(o["ours_s"] for o in per.values()), sum(o["theirs_s"] for o in per.values())
    print(f"codec time summed: ours {ours_sum:.2f} s vs eval_model {theirs_sum:.2f} s; "
          f"ours' untimed warm-up and complexity counts (first picture of each size) {sum(o['warmup_s'] for o in per.values()):.2f} s")
    print(f"codec time ratio ours/eval_model: median {np.median(ratios):.3f}, max {max(ratios):.3f}   [target: median <= 1]; "
          f"compress alone {np.median([o['ours_c'] / o['theirs_c'] for o in per.values()]):.3f}, "
          f"decompress alone (ours in the decoder process) {np.median([o['ours_d'] / o['theirs_d'] for o in per.values()]):.3f}")

    print(f"\n2. whole run, each side a fresh process ({max(1, args.repeat)} pair(s), run back to back)")
    pairs = []
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        data = tmp / "images"
        data.mkdir()
        for f in files:
            os.symlink(f.resolve(), data / f.name)
        for i in range(max(1, args.repeat)):
            theirs = _whole_theirs(data, args, tmp / f"eval{i}")
            ours, after = _whole_ours(data, args, tmp / f"ours{i}.json")
            pairs.append((ours, after, theirs))
            print(f"  pair {i + 1}: ours {ours:.1f} s (after its imports {after:.1f} s) vs eval_model {theirs:.1f} s "
                  f"-> ratio {ours / theirs:.3f} (after imports {after / theirs:.3f})")
    best_o, best_a, best_t = min(p[0] for p in pairs), min(p[1] for p in pairs), min(p[2] for p in pairs)
    print(f"whole-run ratio: median of pairs {np.median([p[0] / p[2] for p in pairs]):.3f}; best of each {best_o / best_t:.3f} "
          f"({best_o:.1f} s vs {best_t:.1f} s)   [target: <= 1]")
    print(f"ours after its imports vs eval_model's whole run (the earlier figure's protocol): median of pairs "
          f"{np.median([p[1] / p[2] for p in pairs]):.3f}; best of each {best_a / best_t:.3f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
