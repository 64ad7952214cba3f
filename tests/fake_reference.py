"""Fake HM / VTM binaries for tests: a toy codec behind the reference software's command line.

HM and VTM are not installable here, so the tests write two small Python scripts that take the command
lines real HM/VTM take, both bench's (`--SourceWidth=...`, `--QP=...`) and CompressAI's bench's
(`-q 32 -wdt 96 -hgt 64 -fr 1 -f 1 --InputBitDepth=8 ...`, `--SEIDecodedPictureHash` without a value).
Like the real encoders they read `Key : Value` lines from the cfg (`-c`), let the command line override
them, take InternalBitDepth from the cfg (default: the input bit depth), write the reconstruction at
OutputBitDepth (default: internal) and decode at `-d` bits (0: internal), rounding when bits are dropped.

The "coding": samples at the internal bit depth, divided by a step and rounded, zlib-compressed.  The
step is 1 (lossless) unless FAKE_LOSSY is set; then it doubles every 6 QP like a real quantiser,
2 ** ((QP - 4) / 6) in 8-bit units, so rate falls and distortion rises with QP.  Nothing here says
anything about HM's or VTM's coding; only the plumbing around them is exercised.

Environment switches: FAKE_QP_SHIFT (the log reports another QP), FAKE_CORRUPT (the decoder flips a
bit), FAKE_UNKNOWN_OPTION (the encoder warns about an unknown option, as older builds do, and goes on).
"""

from __future__ import annotations

import stat
import sys
from pathlib import Path

FAKE_ENCODER = r'''#!{python}
"""FAKE {label} encoder for lic-bench's tests: a toy codec behind {label}'s command line. Not {label}."""
import json, os, sys, zlib
import numpy as np

args = sys.argv[1:]
if "--help" in args:
    print("{banner}")
    print("  (fake: a toy codec behind the reference software's command line)")
    sys.exit(1)
SHORT = {{"-c": "-c", "-i": "-i", "-b": "-b", "-o": "-o", "-q": "QP", "-wdt": "SourceWidth", "-hgt": "SourceHeight",
         "-fr": "FrameRate", "-f": "FramesToBeEncoded"}}
opts, i = {{}}, 0
while i < len(args):
    a = args[i]
    if a.startswith("--"):
        k, _, v = a[2:].partition("=")
        opts[k] = v if "=" in a else "1"
        i += 1
    elif a in SHORT:
        opts[SHORT[a]] = args[i + 1]
        i += 2
    else:
        sys.exit("fake encoder: unknown argument " + a)
cfg = {{}}
for line in open(opts["-c"]):
    line = line.split("#", 1)[0].strip()
    if not line:
        continue
    if ":" not in line:
        sys.exit("fake encoder: bad cfg line " + line)
    k, v = (t.strip() for t in line.split(":", 1))
    cfg[k] = v
get = lambda k, d=None: opts.get(k, cfg.get(k, d))
need = ["-i", "-b", "SourceWidth", "SourceHeight", "FrameRate", "FramesToBeEncoded", "QP", "InputBitDepth",
        "InputChromaFormat"]
missing = [k for k in need if get(k) is None]
if missing:
    sys.exit("fake encoder: missing " + ", ".join(missing))
w, h, qp = int(get("SourceWidth")), int(get("SourceHeight")), int(get("QP"))
in_bd = int(get("InputBitDepth"))
bd = int(get("InternalBitDepth", in_bd))
out_bd = int(get("OutputBitDepth", 0)) or bd
chroma = get("InputChromaFormat")
if get("FramesToBeEncoded") != "1" or get("ChromaFormatIDC", chroma) not in (chroma, "0"):
    sys.exit("fake encoder: expected one frame coded in its input chroma format")
if chroma == "420" and (w % 2 or h % 2):
    sys.exit("fake encoder: 4:2:0 needs even width and height")
cw, ch = (w, h) if chroma == "444" else (w // 2, h // 2)
data = open(opts["-i"], "rb").read()
need_bytes = (w * h + 2 * cw * ch) * (1 if in_bd == 8 else 2)
if len(data) != need_bytes:
    sys.exit("fake encoder: input has %d bytes, expected %d" % (len(data), need_bytes))

def depth(x, src, dst):
    if dst >= src:
        return x << (dst - src)
    return np.minimum((x + (1 << (src - dst - 1))) >> (src - dst), (1 << dst) - 1)

x = depth(np.frombuffer(data, dtype=np.uint8 if in_bd == 8 else "<u2").astype(np.int64), in_bd, bd)
step = max(1, int(round(2 ** ((qp - 4) / 6.0) * 2 ** (bd - 8)))) if os.environ.get("FAKE_LOSSY") else 1
idx = (x + step // 2) // step
header = json.dumps({{"w": w, "h": h, "bd": bd, "chroma": chroma, "qp": qp, "step": step}}).encode() + b"\n"
open(opts["-b"], "wb").write(b"FAKE" + header + zlib.compress(idx.astype("<u2").tobytes(), 9))
if "-o" in opts:
    rec = depth(np.minimum(idx * step, (1 << bd) - 1), bd, out_bd)
    open(opts["-o"], "wb").write(rec.astype(np.uint8 if out_bd == 8 else "<u2").tobytes())
if os.environ.get("FAKE_UNKNOWN_OPTION"):
    print("Unknown option `%s' (value:`1') ignored" % os.environ["FAKE_UNKNOWN_OPTION"])
shown = qp + int(os.environ.get("FAKE_QP_SHIFT", "0"))
print("{slice_line}".format(qp=shown, bits=8 * len(data)))
'''

FAKE_DECODER = r'''#!{python}
"""FAKE {label} decoder for lic-bench's tests: decodes the toy codec's stream. Not {label}."""
import json, os, sys, zlib
import numpy as np

args = sys.argv[1:]
if "--help" in args:
    print("{banner}")
    sys.exit(1)
opts, i = {{}}, 0
while i < len(args):
    if args[i] in ("-b", "-o", "-d"):
        opts[args[i]] = args[i + 1]
        i += 2
    else:
        sys.exit("fake decoder: unknown argument " + args[i])
blob = open(opts["-b"], "rb").read()
assert blob[:4] == b"FAKE", "not a fake bitstream"
end = blob.index(b"\n")
info = json.loads(blob[4:end])
bd, step = info["bd"], info["step"]
out_bd = int(opts.get("-d", "0")) or bd
rec = np.minimum(np.frombuffer(zlib.decompress(blob[end + 1:]), dtype="<u2").astype(np.int64) * step, (1 << bd) - 1)
if out_bd >= bd:
    rec = rec << (out_bd - bd)
else:
    rec = np.minimum((rec + (1 << (bd - out_bd - 1))) >> (bd - out_bd), (1 << out_bd) - 1)
data = bytearray(rec.astype(np.uint8 if out_bd == 8 else "<u2").tobytes())
if os.environ.get("FAKE_CORRUPT"):
    data[0] ^= 1
open(opts["-o"], "wb").write(bytes(data))
'''

STYLES = {
    "hm": {"label": "HM", "banner": "HM software: Encoder Version [99.0-fake] (including RExt)[Linux][GCC][64 bit]",
           "slice_line": "POC    0 TId: 0 ( I-SLICE, nQP {qp} QP {qp} )     {bits} bits [Y 99.0 dB]"},
    "vtm": {"label": "VTM", "banner": "VVCSoftware: VTM Encoder Version 99.0-fake [Linux][GCC][64 bit]",
            "slice_line": "POC    0 LId:  0 TId: 0 ( IDR_N_LP, I-SLICE, QP {qp} )     {bits} bits [Y 99.0 dB]"},
}
NAMES = {"hm": ("TAppEncoderStatic", "TAppDecoderStatic"), "vtm": ("EncoderAppStatic", "DecoderAppStatic")}
ENV = {"hm": "BENCH_HM", "vtm": "BENCH_VTM"}
ENV_SWITCHES = ("FAKE_QP_SHIFT", "FAKE_CORRUPT", "FAKE_LOSSY", "FAKE_UNKNOWN_OPTION")


def write_exe(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path


def banner_of(which: str, version: str) -> str:
    """The real banner of that tool with another version, e.g. banner_of('vtm', '15.0')."""
    if which == "vtm":
        return f"VVCSoftware: VTM Encoder Version {version} [Linux][GCC 12.2.0][64 bit] [SIMD=AVX2]"
    return f"HM software: Encoder Version [{version}] (including RExt)[Linux][GCC 12.2.0][64 bit]"


def scripts(which: str, banner: str | None = None) -> tuple[str, str]:
    st = {**STYLES[which], "python": sys.executable}
    if banner is not None:
        st["banner"] = banner
    return FAKE_ENCODER.format(**st), FAKE_DECODER.format(**st)


def fake_build(root: Path, which: str, banner: str | None = None) -> Path:
    """A fake build tree: <root>/bin/<EncoderName> and <DecoderName>, like a real cmake build."""
    enc_text, dec_text = scripts(which, banner)
    enc, dec = NAMES[which]
    write_exe(root / "bin" / enc, enc_text)
    write_exe(root / "bin" / dec, dec_text)
    return root
