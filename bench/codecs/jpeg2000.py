"""JPEG 2000 (Part 1) through Pillow's bundled OpenJPEG: 9/7 wavelet, one quality layer at a fixed ratio.

Why these choices:
  - The rate point is OpenJPEG's compression *ratio* (`quality_mode="rates"`, one layer): the
    encoder truncates to about raw_bits / ratio, where raw_bits = width * height * 3 * 8, so a ratio
    r gives roughly 24 / r bpp.  That is how OpenJPEG and Kakadu anchors are usually driven; a fixed
    ratio is a rate target, so curves are compared on measured bytes, never on the ratio.
  - Trap: Pillow's `mct` defaults to 0, which codes R, G and B as three independent components (no
    colour transform at all).  Measured here on skimage's astronaut (512x512): 3.1-3.6 dB lower
    PSNR-RGB at the same bytes (ratio 20: 34.15 vs 37.77 dB; ratio 80: 26.53 vs 29.63 dB).
    `opj_compress` and Kakadu apply the multiple-component transform to RGB by default, so we ask
    for it: with `irreversible=True` that is the ICT, the BT.601 matrix applied in floating point
    to the DC-shifted samples (full range, 4:4:4, no rounding to integer Y'CbCr planes in between).
    The adapter reads the COD marker of every file it writes and fails if the MCT flag or the
    wavelet (0 = 9/7 irreversible, 1 = 5/3 reversible) is not what was asked.
  - A raw codestream (`.j2k`, `no_jp2=True`) by default: the JP2 box wrapper adds ~85 bytes of
    container that no decoder needs, and the other anchors here are raw streams too (x265, vvenc,
    JPEG XL).  `jp2: true` writes the boxed file instead.
  - CompressAI's JPEG 2000 anchor is different (ffmpeg's libopenjpeg on ffmpeg-converted BT.601
    limited-range yuv444p, driven by `-compression_level`); curves from it are not comparable byte
    for byte with this one.
  - Decoded with Pillow (OpenJPEG, which inverts the ICT itself).
"""

from __future__ import annotations

from bench.codecs.pillow import PillowCodec
from bench.core.errors import BenchError


def cod_marker(data: bytes) -> dict:
    """Fields of the main-header COD marker segment (ISO/IEC 15444-1 A.6.1)."""
    soc = data.find(b"\xff\x4f\xff\x51")  # SOC followed by SIZ opens every codestream
    if soc < 0:
        raise RuntimeError("no JPEG 2000 codestream (SOC/SIZ) in the file")
    sot = data.find(b"\xff\x90", soc)  # first tile-part: the main header ends here
    i = data.find(b"\xff\x52", soc, sot if sot > 0 else len(data))
    if i < 0:
        raise RuntimeError("no COD marker in the JPEG 2000 main header")
    s = data[i + 4 :]
    return {"progression": s[1], "layers": int.from_bytes(s[2:4], "big"), "mct": s[4], "levels": s[5],
            "wavelet": s[9]}


class JPEG2000(PillowCodec):
    point_name = "ratio"
    point_type = float
    point_range = (1, None)  # OpenJPEG compression ratio (1 = no rate limit)
    revision = 1
    fmt = "JPEG2000"
    feature = "jpg_2000"

    @classmethod
    def defaults(cls):
        return {
            "mct": 1,  # 1: ICT (irreversible) / RCT (reversible); 0: code R, G, B separately
            "irreversible": True,  # 9/7 wavelet; False = 5/3
            "num_resolutions": 0,  # 0 = OpenJPEG's default (6 resolutions, 5 decomposition levels)
            "jp2": False,  # False: raw .j2k codestream; True: JP2 boxes around it
        }

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        p = self.params
        if p["mct"] not in (0, 1) or isinstance(p["mct"], bool):
            raise BenchError(f"jpeg2000: mct must be 0 or 1, not {p['mct']!r}")
        for key in ("irreversible", "jp2"):
            if not isinstance(p[key], bool):
                raise BenchError(f"jpeg2000: {key} must be true or false, not {p[key]!r}")
        if isinstance(p["num_resolutions"], bool) or not isinstance(p["num_resolutions"], int) or not 0 <= p["num_resolutions"] <= 33:
            raise BenchError(f"jpeg2000: num_resolutions must be an integer in 0..33 (0 = OpenJPEG's default), not {p['num_resolutions']!r}")
        self.suffix = ".jp2" if self.params["jp2"] else ".j2k"

    def colour(self):
        mct, irr = int(self.params["mct"]), bool(self.params["irreversible"])
        matrix = "rgb" if not mct else ("bt601" if irr else "rct")  # ICT is the BT.601 matrix, unrounded
        return {"colour_matrix": matrix, "colour_range": "full", "colour_chroma": "444", "colour_bit_depth": 8,
                "colour_siting": "center"}

    def save_kwargs(self, point) -> dict:
        kw = {"quality_mode": "rates", "quality_layers": [float(point)],
              "irreversible": bool(self.params["irreversible"]), "mct": int(self.params["mct"]),
              "no_jp2": not self.params["jp2"]}
        if int(self.params["num_resolutions"]):
            kw["num_resolutions"] = int(self.params["num_resolutions"])
        return kw

    def verify(self, data: bytes, point) -> None:
        cod = cod_marker(data)
        want = {"mct": int(self.params["mct"]), "wavelet": 0 if self.params["irreversible"] else 1, "layers": 1}
        for key, value in want.items():
            if cod[key] != value:
                raise RuntimeError(f"JPEG 2000 COD marker has {key}={cod[key]}, expected {value}")
