"""Lossy WebP (VP8 intra) through Pillow's bundled libwebp, as a Pillow-based anchor calls it.

Why these choices:
  - `save(format="WEBP", quality=q)` with Pillow's other defaults (`method=4`): the same call as
    CompressAI's `compressai.utils.bench webp` (read in compressai 1.2.8), so its WebP curves can be
    checked against ours.  `method` (0 fast .. 6 slow, better RD) is a parameter because it changes
    the bytes.
  - The colour record is BT.601 *limited* range, not full range like JPEG.  libwebp's RGB->YUV is
    the studio-swing matrix (`VP8RGBToY`: 16839/65536 = 0.299 * 219/255, plus 16; Cb/Cr scaled to
    224), and VP8 has no field to signal anything else.  So WebP loses 8-bit code values that JPEG
    keeps; that is part of the codec, not of our pipeline.  Chroma is 4:2:0 from 2x2 averages
    (centre-sited); libwebp's "sharp YUV" converter stays off (Pillow 13 does not expose it).
  - quality=100 is still lossy; lossless WebP (VP8L) is another codec and is not offered here.
  - Decoded with Pillow (libwebp's own YUV->RGB with its "fancy" chroma upsampler), never through
    the BT.709 ffmpeg path.
  - Verified on every encode: the file must be a lossy `VP8 ` chunk; a lossless or alpha-carrying
    file would mean Pillow changed what `quality=` does.
"""

from __future__ import annotations

from bench.codecs.pillow import PillowCodec
from bench.core.errors import BenchError


class WebP(PillowCodec):
    point_name = "quality"
    point_type = int
    point_range = (0, 100)
    revision = 1
    fmt = "WEBP"
    suffix = ".webp"
    feature = "webp"

    @classmethod
    def defaults(cls):
        return {"method": 4}  # Pillow's default effort; 6 = slowest/best

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        m = self.params["method"]
        if isinstance(m, bool) or not isinstance(m, int) or not 0 <= m <= 6:
            raise BenchError(f"webp: method must be an integer in 0..6, not {m!r}")

    def colour(self):
        return {"colour_matrix": "bt601", "colour_range": "limited", "colour_chroma": "420", "colour_bit_depth": 8,
                "colour_siting": "center"}

    def save_kwargs(self, point) -> dict:
        return {"quality": int(point), "method": int(self.params["method"])}

    def verify(self, data: bytes, point) -> None:
        # RIFF....WEBP then the first chunk: "VP8 " (lossy, simple format) is what we asked for.
        if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
            raise RuntimeError("Pillow did not write a RIFF/WEBP file")
        if data[12:16] != b"VP8 ":
            raise RuntimeError(f"WebP file starts with chunk {data[12:16]!r}, expected lossy 'VP8 '")
