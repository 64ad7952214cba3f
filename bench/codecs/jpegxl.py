"""JPEG XL through the pinned ffmpeg's libjxl encoder and decoder, fed and read as 8-bit RGB.

Why these choices:
  - The rate point is libjxl's Butteraugli `distance` (0 = mathematically lossless; 1 ~ "visually
    lossless"; larger = smaller files): libjxl's own quality axis, so no mapping of ours can bend it.
    `effort` (1..9, libjxl's default 7) changes the bytes and is a parameter.
  - RGB in, RGB out, and no ffmpeg conversion on either side.  The picture goes in as `rgb24` with
    explicit sRGB tags *before* `-i` (untagged, libjxl warns "Unknown transfer function, assuming
    sRGB" and a tag written as an output option can make ffmpeg insert a conversion, FIELD-NOTES
    "Colour"), and comes out as `rgb24`, the format libjxl's decoder returns for an 8-bit file.
    Both ffmpeg logs are read on every unit: the filter graph must see rgb24 and no `auto_scale`
    filter may be inserted, or the unit fails.  libjxl's own XYB transform (lossy mode) and its
    decoder's return to sRGB are part of the codec, so `colour()` records "xyb", not a YCbCr matrix
    (at distance 0 libjxl codes the RGB samples losslessly in modular mode, without XYB; the round
    trip is then bit-exact, which the tests check).
  - One raw JPEG XL codestream (`ff 0a`), written by the image2 muxer with `-update 1`; no ISOBMFF
    container, like the other raw-stream anchors here.
  - `-threads` is the harness's thread count for both sides (libjxl's output does not depend on it).
"""

from __future__ import annotations

import re
import subprocess
from functools import lru_cache
from pathlib import Path

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, join, run_process
from bench.core.ffmpeg import ffmpeg_exe, ffmpeg_version, require_encoder
from bench.core.errors import BenchError, CodecUnavailable

SRGB_TAGS = ["-color_range", "pc", "-colorspace", "rgb", "-color_primaries", "bt709", "-color_trc", "iec61966-2-1"]


@lru_cache(maxsize=None)
def has_decoder(name: str) -> bool:
    out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-decoders"], capture_output=True, text=True).stdout
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def check_no_conversion(log: str, stream: str, what: str) -> None:
    """Fail unless ffmpeg's verbose log shows rgb24 end to end with no inserted scaler."""
    if "auto_scale" in log or "auto-inserting filter" in log:
        raise RuntimeError(f"{what}: ffmpeg inserted a pixel-format conversion (auto_scale); refusing a silent conversion")
    if not re.search(r"\[graph[^\]]*input[^\]]*\][^\n]*pixfmt:rgb24\b", log):
        raise RuntimeError(f"{what}: ffmpeg's filter graph did not receive rgb24 (log has no 'pixfmt:rgb24' graph input)")
    if not re.search(rf"Stream #\d+:\d+[^\n]*: Video: {stream}[^\n]*\brgb24\(", log):
        raise RuntimeError(f"{what}: the {stream} stream is not rgb24 in ffmpeg's log")


class JPEGXL(Codec):
    point_name = "distance"
    point_type = float
    point_range = (0, 15)  # ffmpeg's libjxl -distance; libjxl itself codes 0 < d < 0.01 as 0.01 (check_point)
    revision = 1

    @classmethod
    def defaults(cls):
        return {"effort": 7}

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        effort = self.params["effort"]
        if isinstance(effort, bool) or not isinstance(effort, int) or not 1 <= effort <= 9:
            raise BenchError(f"jpegxl: effort must be an integer in 1..9, not {effort!r}")

    def check_point(self, point):
        point = super().check_point(point)
        if 0 < point < 0.01:
            raise BenchError(f"JPEGXL distance {point!r} would be coded as 0.01 (libjxl's smallest lossy distance); "
                             "use 0 (lossless) or a distance >= 0.01")
        return point

    def version(self) -> str:
        return f"libjxl via {ffmpeg_version()}"

    def check(self) -> None:
        require_encoder("libjxl", "jpegxl")
        if not has_decoder("libjxl"):
            raise CodecUnavailable(f"jpegxl: {ffmpeg_exe()} has no libjxl decoder; install imageio-ffmpeg==0.8.1 or set BENCH_FFMPEG")

    def colour(self):
        return {"colour_matrix": "xyb", "colour_range": "full", "colour_chroma": "444", "colour_bit_depth": 8,
                "colour_siting": "center"}

    def command(self, width: int, height: int, distance: float, out: Path) -> list[str]:
        return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "verbose",
                "-f", "rawvideo", "-pix_fmt", "rgb24", "-s", f"{width}x{height}", "-r", "1", *SRGB_TAGS, "-i", "-",
                "-frames:v", "1", "-c:v", "libjxl", "-distance", f"{float(distance):g}",
                "-effort", str(int(self.params["effort"])), "-threads", str(self.threads),
                "-f", "image2", "-update", "1", "-y", str(out)]

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        d = float(point)
        if not 0 <= d <= 15:
            raise ValueError(f"jpegxl: distance {d} out of range 0..15 (ffmpeg's libjxl limit)")
        h, w = rgb.shape[:2]
        out = workdir / "bitstream.jxl"
        cmd = self.command(w, h, d, out)
        _, log, timing = run_process(cmd, stdin=np.ascontiguousarray(rgb, dtype=np.uint8).tobytes(), what="ffmpeg libjxl")
        check_no_conversion(log, "jpegxl", "jpegxl encode")
        data = out.read_bytes()
        if data[:2] != b"\xff\x0a":
            raise RuntimeError("jpegxl: output is not a bare JPEG XL codestream (ff 0a)")
        keep = "\n".join(line for line in log.splitlines() if "libjxl" in line or "Stream #" in line)
        return Encoded(out, join(cmd), timing, {"width": w, "height": h}, keep)

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        w, h = enc.meta["width"], enc.meta["height"]
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "verbose", "-threads", str(self.threads),
               "-c:v", "libjxl", "-i", str(enc.path), "-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "rgb24", "-"]
        out, log, timing = run_process(cmd, what="ffmpeg libjxl decoder")
        check_no_conversion(log, "jpegxl", "jpegxl decode")
        if len(out) != w * h * 3:
            raise RuntimeError(f"jpegxl: decoder returned {len(out)} bytes, expected {w * h * 3} for {w}x{h} rgb24")
        rgb = np.frombuffer(out, dtype=np.uint8).reshape(h, w, 3).copy()
        return Decoded(rgb, join(cmd), timing)
