"""The learned-codec bitstream file: what `bytes`/`bpp` count and all the decoder reads.

A 12-byte header + the entropy-coded strings that `model.compress()` returns.  Header: magic b"LIC1",
original height and width (u16), latent shape (u16 x 2: the `shape` CompressAI's decompress needs),
number of strings (u8) and, per string, its length as a LEB128 varint (a u32 would be 4 bytes each).
`payload_bytes` is the strings alone (what CompressAI's eval_model counts).

Variable-rate models (magic b"LIV1") carry their rate too: the quantisation step as a big-endian
float32 after the latent shape (4 bytes more), so that the decoder needs the file and nothing else;
both sides derive the model's scale from that float32, never from the configured decimal number.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

MAGIC = b"LIC1"
MAGIC_RATE = b"LIV1"


@dataclass(frozen=True)
class Bitstream:
    strings: list[bytes]
    latent_hw: tuple[int, int]
    height: int
    width: int
    rate: float | None = None  # the quantisation step of a variable-rate model (float32 value)


def _varint(n: int) -> bytes:
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _read_varint(buf: bytes, pos: int) -> tuple[int, int]:
    n = shift = 0
    while True:
        b = buf[pos]
        pos += 1
        n |= (b & 0x7F) << shift
        shift += 7
        if not b & 0x80:
            return n, pos


def float32(value: float) -> float:
    """`value` as the float32 the file stores (the rate both sides use)."""
    return struct.unpack(">f", struct.pack(">f", float(value)))[0]


def pack(strings: list[bytes], latent_hw, height: int, width: int, rate: float | None = None) -> bytes:
    for v in (height, width, *latent_hw):
        if not 0 <= int(v) < 1 << 16:
            raise ValueError(f"picture or latent size {v} does not fit the 16-bit header field")
    magic = MAGIC if rate is None else MAGIC_RATE
    head = magic + b"".join(int(v).to_bytes(2, "big") for v in (height, width, *latent_hw))
    if rate is not None:
        head += struct.pack(">f", float(rate))
    head += bytes([len(strings)])
    return head + b"".join(_varint(len(s)) for s in strings) + b"".join(strings)


def read(buf: bytes) -> Bitstream:
    if buf[:4] not in (MAGIC, MAGIC_RATE):
        raise ValueError("not a lic-bench learned-codec bitstream (bad magic)")
    h, w, lh, lw = (int.from_bytes(buf[4 + 2 * i : 6 + 2 * i], "big") for i in range(4))
    pos, rate = 12, None
    if buf[:4] == MAGIC_RATE:
        (rate,) = struct.unpack(">f", buf[12:16])
        pos = 16
    n, pos = buf[pos], pos + 1
    lengths = []
    for _ in range(n):
        ln, pos = _read_varint(buf, pos)
        lengths.append(ln)
    strings = []
    for ln in lengths:
        strings.append(buf[pos : pos + ln])
        pos += ln
    if pos != len(buf):
        raise ValueError(f"bitstream length {len(buf)} does not match its header ({pos})")
    return Bitstream(strings, (lh, lw), h, w, rate)


def unpack(buf: bytes) -> tuple[list[bytes], tuple[int, int], int, int]:
    """(strings, latent shape, height, width) of a fixed-rate file (see `read` for the rate too)."""
    b = read(buf)
    return b.strings, b.latent_hw, b.height, b.width
