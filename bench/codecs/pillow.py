"""Shared base of the anchors that Pillow's bundled libraries code (libjpeg-turbo, libwebp, ...).

Pillow picks the colour pipeline itself (JPEG and WebP: BT.601 full-range Y'CbCr with 4:2:0 chroma
by default), so these codecs are decoded with Pillow too, never through a BT.709 ffmpeg path.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import PIL
from PIL import Image, features

from bench.codecs.base import Codec, Decoded, Encoded, clock
from bench.errors import CodecUnavailable


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

    def check(self) -> None:
        if self.feature and not features.check(self.feature):
            raise CodecUnavailable(f"{self.fmt}: this Pillow {PIL.__version__} was built without {self.feature}")

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        out = workdir / f"bitstream{self.suffix}"
        kwargs = self.save_kwargs(point)
        img = Image.fromarray(rgb, "RGB")
        with clock() as c:
            img.save(out, format=self.fmt, **kwargs)
        args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
        return Encoded(out, f"PIL.Image.save(format={self.fmt!r}, {args})", c.timing)

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        with clock() as c:
            with Image.open(enc.path) as im:
                rgb = np.asarray(im.convert("RGB"))
        return Decoded(rgb, "PIL.Image.open().convert('RGB')", c.timing)
