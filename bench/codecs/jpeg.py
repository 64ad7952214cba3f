"""JPEG through Pillow's libjpeg-turbo, exactly as CompressAI's bench calls it.

`save(format="JPEG", quality=q)` with Pillow's defaults (4:2:0 chroma, BT.601 full range, no
optimised Huffman tables), so our bytes equal those of `python -m compressai.utils.bench jpeg`.
"""

from __future__ import annotations

from bench.codecs.pillow import PillowCodec
from bench.core.errors import BenchError


class JPEG(PillowCodec):
    point_name = "quality"
    point_type = int
    point_range = (1, 100)  # libjpeg codes 0 as 1: refused, not relabelled
    revision = 1
    fmt = "JPEG"
    suffix = ".jpg"
    feature = "jpg"

    @classmethod
    def defaults(cls):
        return {"subsampling": None, "optimize": False}

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        sub = self.params["subsampling"]
        if sub is not None and (isinstance(sub, bool) or sub not in (0, 1, 2)):
            raise BenchError(f"jpeg: subsampling must be null (Pillow's 4:2:0), 0 (4:4:4), 1 (4:2:2) or 2 (4:2:0), not {sub!r}")
        if not isinstance(self.params["optimize"], bool):
            raise BenchError(f"jpeg: optimize must be true or false, not {self.params['optimize']!r}")

    def colour(self):
        sub = self.params["subsampling"]
        chroma = {None: "420", 0: "444", 1: "422", 2: "420"}.get(sub, str(sub))
        return {"colour_matrix": "bt601", "colour_range": "full", "colour_chroma": chroma, "colour_bit_depth": 8,
                "colour_siting": "center"}

    def save_kwargs(self, point) -> dict:
        kw = {"quality": int(point)}
        if self.params["subsampling"] is not None:
            kw["subsampling"] = self.params["subsampling"]
        if self.params["optimize"]:
            kw["optimize"] = True
        return kw
