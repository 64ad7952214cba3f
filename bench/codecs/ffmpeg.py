"""Raw-planes I/O shared by the ffmpeg adapters (x265, vvenc): our colour conversion in, the
coded planes out, ffmpeg doing no conversion of its own.  The executable is `bench.core.ffmpeg`'s."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from bench.codecs.base import Decoded, encoder_reason, join, run_process
from bench.core.colour import ColourSpec, bytes_to_planes, pad_even, planes_to_bytes, planes_to_rgb, rgb_to_planes
from bench.core.errors import BenchError
from bench.core.ffmpeg import ffmpeg_exe, ffmpeg_version, has_encoder, require_encoder


PIX_FMT = {("444", 10): "yuv444p10le", ("420", 10): "yuv420p10le", ("444", 8): "yuv444p", ("420", 8): "yuv420p"}
COLOUR_TAGS = {"bt709": ("bt709", "bt709", "bt709"), "bt601": ("smpte170m", "smpte170m", "smpte170m"), "bt2020": ("bt2020nc", "bt2020", "bt709")}


def colour_spec(codec: str, chroma, bit_depth, matrix, range_, supported: set) -> ColourSpec:
    """The coding colour pipeline of an ffmpeg adapter, or one BenchError line naming what is possible."""
    try:
        depth = int(bit_depth)
    except (TypeError, ValueError):
        raise BenchError(f"{codec}: bit_depth must be an integer, not {bit_depth!r}") from None
    if (str(chroma), depth) not in supported:
        choices = ", ".join(f"chroma={c} bit_depth={d}" for c, d in sorted(supported))
        raise BenchError(f"{codec}: chroma={chroma} bit_depth={bit_depth} is not supported here; choose {choices}")
    try:
        return ColourSpec(matrix=str(matrix), range=str(range_), chroma=str(chroma), bit_depth=depth)
    except ValueError as exc:
        raise BenchError(f"{codec}: {exc}") from None


def probe_picture() -> np.ndarray:
    """A small picture with texture and colour for a configuration probe (a trial encode before any unit)."""
    y, x = np.mgrid[0:64, 0:64]
    return np.stack([(x * 4) % 256, (y * 4) % 256, ((x + y) * 2) % 256], axis=-1).astype(np.uint8)


def refused_configuration(codec: str, exc: Exception) -> BenchError:
    """A trial encode that failed: the encoder's own reason as one line."""
    return BenchError(f"{codec}: the encoder refuses this configuration: {getattr(exc, 'reason', None) or exc}")


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
    if int(spec.bit_depth) == 8:  # one byte per sample
        out = np.frombuffer(out, dtype=np.uint8).astype("<u2").tobytes()
    planes = bytes_to_planes(out, coded_w, coded_h, spec)
    rgb = planes_to_rgb(planes, spec)[:height, :width]
    return Decoded(rgb=np.ascontiguousarray(rgb), command=join(cmd), timing=timing)


__all__ = ["ffmpeg_exe", "ffmpeg_version", "has_encoder", "require_encoder", "raw_input_args", "rgb_to_raw", "decode_raw",
           "colour_spec", "probe_picture", "refused_configuration", "encoder_reason", "PIX_FMT"]
