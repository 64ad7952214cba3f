"""AVIF (AV1 intra in HEIF) through Pillow 13's bundled libavif: libaom encodes, dav1d decodes.

Why these choices:
  - Explicit subsampling, 4:4:4 by default.  Pillow's default is 4:2:0, which caps RGB PSNR at high
    rates (FIELD-NOTES, "4:2:0 caps RGB PSNR even when lossless"); the learned codecs we compare
    with code RGB at full resolution.  `subsampling: "4:2:0"` gives the web-default flavour.
    Pillow 13 accepts "4:0:0", "4:2:0", "4:2:2", "4:4:4".
  - Colour: Pillow hard-codes matrix_coefficients = BT.601 and asks for full range by default
    (`range="full"`), 8 bits; libavif does the RGB->YUV and YUV->RGB conversions itself.  We pass
    `range` explicitly and read the written file's `colr`/`nclx` and `av1C` boxes on every encode:
    matrix, range, bit depth and chroma subsampling must be what `colour()` records.
  - `codec="aom"` is pinned: with "auto" another Pillow build could pick rav1e or SVT-AV1 and give
    other bytes under the same name.  AV1 decoding is exact by specification, so the decoder (dav1d
    here) is left to libavif; it is recorded in the version with the encoder.
  - Trap: libaom's bytes depend on its thread count (measured on skimage's astronaut at quality 50:
    16559 bytes with max_threads=1, 16477 with 2), and the harness's `threads` is not part of a
    row's identity.  So the encoder's `max_threads` is the parameter `encoder_threads` (default 1,
    recorded and hashed with the other parameters), never Pillow's default of every CPU.  Decoding
    is exact whatever the threads, so the decoder gets the harness's `threads`.
  - `speed` 6 is Pillow's default (0 slowest/best .. 10); it changes the bytes and is a parameter.
  - The rate point is Pillow's `quality` (0..100, libavif's quality scale that maps to the AV1
    quantiser); 100 is lossless only for 4:4:4 with an identity matrix, which this adapter never uses.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from bench.codecs.base import Decoded, Encoded, clock
from bench.codecs.pillow import PillowCodec
from bench.core.errors import BenchError, CodecUnavailable

SUBSAMPLING = {"4:4:4": ("444", (0, 0)), "4:2:2": ("422", (1, 0)), "4:2:0": ("420", (1, 1))}
MATRIX_BT601 = 6  # ITU-T H.273 MatrixCoefficients: BT.601 (525/625)


def _box(data: bytes, kind: bytes) -> bytes:
    """Payload of the first box of this type (a flat search is enough for Pillow's still images)."""
    i = data.find(kind)
    if i < 4:
        raise RuntimeError(f"AVIF file has no {kind.decode()} box")
    size = int.from_bytes(data[i - 4 : i], "big")
    return data[i + 4 : i - 4 + size]


def avif_signal(data: bytes) -> dict:
    """Matrix, range, bit depth and subsampling as the file declares them (colr nclx + av1C)."""
    colr = _box(data, b"colr")
    if colr[:4] != b"nclx":
        raise RuntimeError(f"AVIF colr box is {colr[:4]!r}, expected nclx")
    av1c = _box(data, b"av1C")
    b2 = av1c[2]
    high, twelve = (b2 >> 6) & 1, (b2 >> 5) & 1
    return {
        "primaries": int.from_bytes(colr[4:6], "big"),
        "transfer": int.from_bytes(colr[6:8], "big"),
        "matrix": int.from_bytes(colr[8:10], "big"),
        "full_range": colr[10] >> 7,
        "bit_depth": 12 if twelve else (10 if high else 8),
        "subsampling": ((b2 >> 3) & 1, (b2 >> 2) & 1),
    }


class AVIF(PillowCodec):
    point_name = "quality"
    point_type = int
    point_range = (0, 100)
    revision = 1
    fmt = "AVIF"
    suffix = ".avif"
    feature = "avif"

    @classmethod
    def defaults(cls):
        return {"subsampling": "4:4:4", "speed": 6, "range": "full", "codec": "aom",
                "encoder_threads": 1}  # libaom's bytes depend on it: part of the identity

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        if self.params["subsampling"] not in SUBSAMPLING:
            raise BenchError(f"avif: subsampling {self.params['subsampling']!r}; choose from {sorted(SUBSAMPLING)}")
        if self.params["range"] not in ("full", "limited"):
            raise BenchError(f"avif: range {self.params['range']!r}; choose full or limited")
        for key, lo, hi in (("speed", 0, 10), ("encoder_threads", 1, 64)):
            v = self.params[key]
            if isinstance(v, bool) or not isinstance(v, int) or not lo <= v <= hi:
                raise BenchError(f"avif: {key} must be an integer in {lo}..{hi}, not {v!r}")

    def version(self) -> str:
        from PIL import _avif

        return f"{super().version()} [{_avif.codec_versions()}]"

    def check(self) -> None:
        super().check()
        from PIL import _avif

        if not _avif.encoder_codec_available(self.params["codec"]):
            raise CodecUnavailable(f"avif: this Pillow's libavif has no {self.params['codec']} encoder ({_avif.codec_versions()})")
        if not any(_avif.decoder_codec_available(c) for c in ("dav1d", "aom", "libgav1", "avm")):
            raise CodecUnavailable(f"avif: this Pillow's libavif has no AV1 decoder ({_avif.codec_versions()})")

    def colour(self):
        return {"colour_matrix": "bt601", "colour_range": self.params["range"],
                "colour_chroma": SUBSAMPLING[self.params["subsampling"]][0], "colour_bit_depth": 8,
                "colour_siting": "center"}

    def save_kwargs(self, point) -> dict:
        return {"quality": int(point), "subsampling": self.params["subsampling"], "speed": int(self.params["speed"]),
                "range": self.params["range"], "codec": self.params["codec"],
                "max_threads": int(self.params["encoder_threads"])}

    def verify(self, data: bytes, point) -> None:
        sig = avif_signal(data)
        want = {"matrix": MATRIX_BT601, "full_range": int(self.params["range"] == "full"), "bit_depth": 8,
                "subsampling": SUBSAMPLING[self.params["subsampling"]][1]}
        for key, value in want.items():
            if sig[key] != value:
                raise RuntimeError(f"AVIF file declares {key}={sig[key]}, expected {value}")

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        from PIL import AvifImagePlugin

        saved = AvifImagePlugin.DEFAULT_MAX_THREADS
        AvifImagePlugin.DEFAULT_MAX_THREADS = self.threads
        try:
            with clock() as c:
                with Image.open(enc.path) as im:
                    rgb = np.asarray(im.convert("RGB"))
        finally:
            AvifImagePlugin.DEFAULT_MAX_THREADS = saved
        return Decoded(rgb, f"PIL.Image.open().convert('RGB') (libavif, max_threads={self.threads})", c.timing)
