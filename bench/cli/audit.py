"""`bench audit CODEC ... --images PICTURES`: the anchor audit of classical codecs against CompressAI's bench.

    bench audit vtm_420_10bit --images kodim07.png kodim23.png --sweep results/kodak
    bench audit jpeg webp jpeg2000 --images ../shared/datasets/kodak --points 10 30 50 70 90
    bench audit vtm_420_10bit --images pics/ --set codec.params.chroma=444 codec.params.cfg_version=15

For each codec config (conf/codec/<name>.yaml, or yours with --config-dir): the same pictures and points
through bench's path and through `python -m compressai.utils.bench` with the same binary; each colour
path's own loss; the BD-rate of bench's path against CompressAI's with both RD point sets
(method: bench.audit.anchor).  Files go to <sweep>/audit/ (shown by `bench report <sweep>`) or --out.
Exit status 1 when a part of the audit could not run (listed under "Failures" in audit.md).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench.cli.common import compose, user_errors
from bench.core.errors import BenchError
from bench.core.files import sha256_file
from bench.data.datasets import IMAGE_SUFFIXES, ImageRef


def _images(paths: list[Path]) -> list[ImageRef]:
    files: list[Path] = []
    for p in paths:
        p = p.expanduser()
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES)
            if not found:
                raise BenchError(f"{p}: no pictures ({', '.join(sorted(IMAGE_SUFFIXES))})")
            files += found
        elif p.is_file():
            files.append(p)
        else:
            raise BenchError(f"{p}: no such file or folder")
    return [ImageRef(f.stem, str(f.resolve()), sha256_file(f)) for f in files]


def _point(text: str):
    try:
        f = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    return int(f) if f.is_integer() else f


@user_errors
def main(argv=None) -> int:
    from bench.audit.anchor import run_audit
    from bench.sweep.job import codec_config

    ap = argparse.ArgumentParser(prog="bench audit", description="Anchor audit: classical codecs through bench's path "
                                 "and through CompressAI's bench, same pictures, points and binary.")
    ap.add_argument("codecs", nargs="+", help="codec configs, e.g. vtm_420_10bit hm_444_10bit jpeg webp jpeg2000")
    ap.add_argument("--images", nargs="+", type=Path, required=True, help="picture files or folders")
    ap.add_argument("--points", nargs="+", type=_point, help="rate points (default: each config's own)")
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--sweep", type=Path, help="write into <sweep>/audit/, which `bench report <sweep>` shows")
    where.add_argument("--out", type=Path, help="the audit folder (default: results/audit)")
    ap.add_argument("--set", nargs="+", default=[], metavar="KEY=VALUE", help="Hydra overrides for every codec config, "
                    "e.g. codec.params.cfg_version=15")
    ap.add_argument("--config-dir", action="append", default=[], help="your own conf/ folder (as `bench --config-dir`)")
    ap.add_argument("--jobs", type=int, default=1, help="CompressAI's -j (its process pool)")
    ap.add_argument("--workers", type=int, default=1, help="bench's worker processes")
    ap.add_argument("--no-compressai", action="store_true", help="bench's side only: the colour path and the probe")
    ap.add_argument("--timeout", type=float, default=None, help="seconds for each CompressAI run")
    args = ap.parse_args(argv)

    out = (args.sweep / "audit") if args.sweep else (args.out or Path("results") / "audit")
    if args.sweep and not args.sweep.is_dir():
        raise BenchError(f"{args.sweep}: no such sweep folder")
    images = _images(args.images)
    failed = 0
    for name in args.codecs:
        cfg = compose([f"codec={name}", *args.set], config_dirs=[str(Path(d).resolve()) for d in args.config_dir])
        codec = codec_config(cfg)
        r = run_audit(codec, images, out, args.points, compressai=not args.no_compressai, jobs=args.jobs,
                      workers=args.workers, timeout=args.timeout, log=lambda m: print(m, flush=True))
        bd = ("n/a" if r.bd_rate != r.bd_rate else f"{r.bd_rate:+.2f} %" if abs(r.bd_rate) >= 0.005 or r.bd_rate == 0
              else f"{r.bd_rate:+.1e} %")
        print(f"[audit] {r.codec}: BD-rate of bench's path against CompressAI's {bd} (PSNR-RGB, pchip)")
        for c in r.bench_curve:
            p = next((x for x in r.peer_curve if x["point"] == c["point"]), None)
            print(f"[audit]   {r.point_name} {c['point']}: bench {c['bpp']:.4f} bpp / {c['psnr_rgb']:.2f} dB"
                  + (f"; CompressAI {p['bpp']:.4f} bpp / {p['psnr_rgb']:.2f} dB" if p else ""))
        for f in r.failures:
            print(f"[audit] failed: {f}")
        failed += bool(r.failures)
    print(f"[audit] written: {out / 'audit.md'} (and per codec under {out}/)")
    if args.sweep:
        print(f"[audit] `bench report {args.sweep}` shows it as the report's anchor-audit section")
    return 1 if failed else 0
