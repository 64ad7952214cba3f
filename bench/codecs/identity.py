"""Identity: a lossless copy of the RGB samples, the pipeline's smoke test and the template adapter.

The file is a 4-byte header (height, width as big-endian uint16) and the raw 8-bit RGB samples, so
`bpp` is 24 plus the header over the pixels and every metric is at its lossless value (PSNR inf,
MS-SSIM 1).  Copy this file to start an adapter for your own codec: implement `encode` (write a
file), `decode` (read only that file), `version`, `colour`; declare the rate point (`point_name`,
`point_type`, `point_range`) and your parameters with their defaults (`defaults`).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, clock


class Identity(Codec):
    """Lossless copy of the RGB samples (24 bpp): the smoke test and the template for new adapters."""

    point_name = "point"  # a label only: every point codes the same bytes
    point_type = int
    point_range = (0, None)
    revision = 1

    @classmethod
    def defaults(cls):
        return {}

    def version(self) -> str:
        return f"identity r{self.revision}"

    def colour(self):
        return {"colour_matrix": "rgb", "colour_range": "full", "colour_chroma": "444", "colour_bit_depth": 8,
                "colour_siting": "n/a"}

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        h, w = rgb.shape[:2]
        path = workdir / "bitstream.rgb"
        with clock() as c:
            path.write_bytes(h.to_bytes(2, "big") + w.to_bytes(2, "big") + np.ascontiguousarray(rgb, np.uint8).tobytes())
        return Encoded(path, "identity: header + raw RGB bytes", c.timing)

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        with clock() as c:
            buf = enc.path.read_bytes()
            h, w = int.from_bytes(buf[:2], "big"), int.from_bytes(buf[2:4], "big")
            rgb = np.frombuffer(buf, np.uint8, offset=4).reshape(h, w, 3).copy()
        return Decoded(rgb, "identity: read header + raw RGB bytes", c.timing)
