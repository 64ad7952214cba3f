"""Shared base of the anchors that Pillow's bundled libraries code (libjpeg-turbo, libwebp, ...).

Pillow's libraries pick the colour pipeline themselves (JPEG: BT.601 full-range Y'CbCr 4:2:0; WebP:
BT.601 *limited*-range 4:2:0; AVIF: BT.601 full range; JPEG 2000: ICT only when asked), so these
codecs are decoded with Pillow too, never through a BT.709 ffmpeg path.  Each adapter states its
pipeline in `colour()`, and `verify()` lets it check the written file says what was asked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

from bench.codecs.base import Codec, Decoded, Encoded, clock
from bench.core.errors import CodecUnavailable


class PillowCodec(Codec):
    fmt: str = ""  # Pillow's format name
    feature: str = ""  # Pillow feature that must be compiled in
    suffix: str = ".bin"
    library: str = ""  # the feature whose version is recorded

    def save_kwargs(self, point) -> dict:
        raise NotImplementedError

    def version(self) -> str:
        lib = features.version(self.library or self.feature) if (self.library or self.feature) else None
        return f"Pillow {PIL.__version__}" + (f" ({self.library or self.feature} {lib})" if lib else "")

    def verify(self, data: bytes, point) -> None:
        """Raise when the file written does not carry what was asked (a silently ignored option)."""

    def check(self) -> None:
        if self.feature and not features.check(self.feature):
            raise CodecUnavailable(f"{self.fmt}: this Pillow {PIL.__version__} was built without {self.feature}")

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        out = workdir / f"bitstream{self.suffix}"
        kwargs = self.save_kwargs(point)
        img = Image.fromarray(rgb, "RGB")
        with clock() as c:
            img.save(out, format=self.fmt, **kwargs)
        self.verify(out.read_bytes(), point)
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return Encoded(out, f"PIL.Image.save(format={self.fmt!r}, {args})", c.timing)

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        with clock() as c:
            with Image.open(enc.path) as im:
                rgb = np.asarray(im.convert("RGB"))
        return Decoded(rgb, "PIL.Image.open().convert('RGB')", c.timing)
