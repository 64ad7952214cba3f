"""The learned-codec bitstream file: what `bytes`/`bpp` count and all the decoder reads.

A 12-byte header + the entropy-coded strings that `model.compress()` returns.  Header: magic b"LIC1",
original height and width (u16), latent shape (u16 x 2: the `shape` CompressAI's decompress needs),
number of strings (u8) and, per string, its length as a LEB128 varint (a u32 would be 4 bytes each).
`payload_bytes` is the strings alone (what CompressAI's eval_model counts).
"""

from __future__ import annotations

MAGIC = b"LIC1"


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


def pack(strings: list[bytes], latent_hw, height: int, width: int) -> bytes:
    head = MAGIC + b"".join(int(v).to_bytes(2, "big") for v in (height, width, *latent_hw)) + bytes([len(strings)])
    return head + b"".join(_varint(len(s)) for s in strings) + b"".join(strings)


def unpack(buf: bytes) -> tuple[list[bytes], tuple[int, int], int, int]:
    if buf[:4] != MAGIC:
        raise ValueError("not a lic-bench learned-codec bitstream (bad magic)")
    h, w, lh, lw = (int.from_bytes(buf[4 + 2 * i : 6 + 2 * i], "big") for i in range(4))
    n, pos = buf[12], 13
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
    return strings, (lh, lw), h, w
