"""Raw-planes I/O shared by the ffmpeg adapters (x265, vvenc): our colour conversion in, the
coded planes out, ffmpeg doing no conversion of its own.  The executable is `bench.core.ffmpeg`'s."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.codecs.base import Decoded, join, run_process
from bench.core.colour import ColourSpec, bytes_to_planes, pad_even, planes_to_bytes, planes_to_rgb, rgb_to_planes
from bench.core.ffmpeg import ffmpeg_exe, ffmpeg_version, has_encoder, require_encoder


PIX_FMT = {("444", 10): "yuv444p10le", ("420", 10): "yuv420p10le", ("444", 8): "yuv444p", ("420", 8): "yuv420p"}
COLOUR_TAGS = {"bt709": ("bt709", "bt709", "bt709"), "bt601": ("smpte170m", "smpte170m", "smpte170m"), "bt2020": ("bt2020nc", "bt2020", "bt709")}


def pix_fmt(spec: ColourSpec) -> str:
    return PIX_FMT[(spec.chroma, int(spec.bit_depth))]


def raw_input_args(spec: ColourSpec, width: int, height: int) -> list[str]:
    """Input options for planes on stdin.  Tags go *before* -i: as output options ffmpeg 9 would
    insert a real conversion (FIELD-NOTES: lossless x265 measured 27.7 dB that way)."""
    space, prim, trc = COLOUR_TAGS[spec.matrix]
    return [
        "-f", "rawvideo", "-pix_fmt", pix_fmt(spec), "-s", f"{width}x{height}", "-r", "1",
        "-color_range", "tv" if spec.range == "limited" else "pc",
        "-colorspace", space, "-color_primaries", prim, "-color_trc", trc,
        "-i", "-",
    ]


def rgb_to_raw(rgb: np.ndarray, spec: ColourSpec) -> tuple[bytes, int, int]:
    """Padded (for 4:2:0) planar bytes and the coded width, height."""
    src = pad_even(rgb) if spec.chroma == "420" else rgb
    h, w = src.shape[:2]
    if int(spec.bit_depth) == 8:
        planes = [p.astype(np.uint8) for p in rgb_to_planes(src, spec)]
        return b"".join(p.tobytes() for p in planes), w, h
    return planes_to_bytes(rgb_to_planes(src, spec)), w, h


def decode_raw(path: Path, spec: ColourSpec, coded_w: int, coded_h: int, width: int, height: int, decoder: str,
               threads: int = 1) -> Decoded:
    """Decode a bitstream with ffmpeg's native decoder into the coded planes, then to cropped RGB.

    The output pix_fmt is the coded one, so ffmpeg does no conversion; colour is ours again.
    """
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-threads", str(threads), "-c:v", decoder, "-i", str(path),
           "-f", "rawvideo", "-pix_fmt", pix_fmt(spec), "-"]
    out, _, timing = run_process(cmd, what=f"ffmpeg {decoder} decoder")
    if int(spec.bit_depth) == 8:
        raise NotImplementedError("8-bit planes are not used by any adapter yet")
    planes = bytes_to_planes(out, coded_w, coded_h, spec)
    rgb = planes_to_rgb(planes, spec)[:height, :width]
    return Decoded(rgb=np.ascontiguousarray(rgb), command=join(cmd), timing=timing)


__all__ = ["ffmpeg_exe", "ffmpeg_version", "has_encoder", "require_encoder", "raw_input_args", "rgb_to_raw", "decode_raw"]
