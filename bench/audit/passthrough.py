"""A pass-through "codec" behind HM's or VTM's command line: the colour path's round trip with no coding.

`bench audit` puts it in place of the encoder and decoder, for bench's adapter and for CompressAI's
bench alike, so each path's own conversion RGB -> Y'CbCr planes -> .yuv -> RGB is measured with nothing
else in between: the RGB PSNR of that round trip is the ceiling no codec behind that path can pass on
those pictures (FIELD-NOTES pitfall 1: CompressAI's truncating 8-bit path caps at about 43.7 dB).

Why a pass-through rather than the codec's own lossless mode: HM and VTM reach lossless only with
special configurations (transquant bypass, CostMode lossless) that differ between versions and between
the two harnesses; a copy is lossless by construction and takes every command line either harness
writes.  The audit also codes at QP 0 with the real binaries, which adds the codec's smallest loss.

    python -m bench.audit.passthrough vtm|hm encoder|decoder ARGS...   (through `write_build`'s scripts)

The encoder copies the .yuv it is given (`-i`) into the "bitstream" (`-b`) behind a small header that
records the input bit depth, writes the reconstruction (`-o`) as the same copy, and prints the
slice line the adapter checks ("( I-SLICE, ... QP n )").  The decoder writes the samples back (`-o`) at
`-d` bits, which must equal the input's (0: the input's): a pass-through never rescales.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

MAGIC = b"LIC-BENCH-PASSTHROUGH\n"
BINARIES = {"vtm": ("EncoderAppStatic", "DecoderAppStatic"), "hm": ("TAppEncoderStatic", "TAppDecoderStatic")}
SLICE = {"vtm": "POC    0 LId:  0 TId: 0 ( IDR_N_LP, I-SLICE, QP {qp} ) (pass-through: nothing coded)",
         "hm": "POC    0 TId: 0 ( I-SLICE, nQP {qp} QP {qp} ) (pass-through: nothing coded)"}
_VALUED = {"-c", "-i", "-b", "-o", "-q", "-wdt", "-hgt", "-fr", "-f", "-d"}


def _options(args: list[str]) -> dict[str, str]:
    opts, i = {}, 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            k, eq, v = a[2:].partition("=")
            opts[k] = v if eq else "1"
            i += 1
        elif a in _VALUED and i + 1 < len(args):
            opts[a] = args[i + 1]
            i += 2
        else:
            raise SystemExit(f"pass-through: unexpected argument {a!r}")
    return opts


def encoder(tool: str, args: list[str]) -> int:
    o = _options(args)
    for need in ("-i", "-b"):
        if need not in o:
            raise SystemExit(f"pass-through encoder: no {need}")
    depth = int(o.get("InputBitDepth", "8"))
    qp = o.get("QP", o.get("-q", "0"))
    data = Path(o["-i"]).read_bytes()
    Path(o["-b"]).write_bytes(MAGIC + f"{depth}\n".encode() + data)
    if "-o" in o:
        with open(o["-o"], "wb") as f:  # /dev/null from CompressAI's bench
            f.write(data)
    print(SLICE[tool].format(qp=int(qp)))
    return 0


def decoder(tool: str, args: list[str]) -> int:
    o = _options(args)
    blob = Path(o["-b"]).read_bytes()
    if not blob.startswith(MAGIC):
        raise SystemExit("pass-through decoder: not a pass-through stream")
    head, _, data = blob[len(MAGIC):].partition(b"\n")
    depth, want = int(head), int(o.get("-d", "0") or 0)
    if want not in (0, depth):
        raise SystemExit(f"pass-through decoder: -d {want} asked, the stream holds {depth}-bit samples (no rescaling here)")
    Path(o["-o"]).write_bytes(data)
    return 0


def write_build(folder: Path, tool: str) -> tuple[Path, Path]:
    """Encoder and decoder scripts under the tool's usual binary names in `folder` (CompressAI's bench
    looks for <build dir>/EncoderAppStatic etc.); returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    out = []
    for role, name in zip(("encoder", "decoder"), BINARIES[tool]):
        path = folder / name
        path.write_text("#!/bin/sh\n# lic-bench pass-through: copies the .yuv, codes nothing\n"
                        f"exec {shlex.quote(sys.executable)} -m bench.audit.passthrough {tool} {role} \"$@\"\n")
        path.chmod(0o755)
        out.append(path)
    return out[0], out[1]


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if len(argv) < 2 or argv[0] not in BINARIES or argv[1] not in ("encoder", "decoder"):
        print("usage: python -m bench.audit.passthrough vtm|hm encoder|decoder ARGS...", file=sys.stderr)
        return 2
    tool, role, rest = argv[0], argv[1], argv[2:]
    if "--help" in rest or "-h" in rest:
        print(f"lic-bench pass-through for the {tool.upper()} command line: copies the .yuv, codes nothing")
        return 1  # as HM/VTM do after their help text
    return encoder(tool, rest) if role == "encoder" else decoder(tool, rest)


if __name__ == "__main__":
    sys.exit(main())
