"""The pinned ffmpeg (the imageio-ffmpeg wheel's static ffmpeg 9: libx265, libvvenc, libjxl, libaom,
libvmaf, native HEVC/VVC decoders).  `BENCH_FFMPEG` points at another build when a user needs one.
Shared by the ffmpeg codec adapters and the VMAF metric, so it lives below both."""

from __future__ import annotations

import os
import subprocess
from functools import lru_cache

from bench.core.errors import CodecUnavailable


@lru_cache(maxsize=1)
def ffmpeg_exe() -> str:
    exe = os.environ.get("BENCH_FFMPEG")
    if exe:
        if not (os.path.isfile(exe) and os.access(exe, os.X_OK)):
            raise CodecUnavailable(f"ffmpeg: BENCH_FFMPEG={exe} is not an executable file")
        return exe
    try:
        import imageio_ffmpeg
    except ImportError:
        raise CodecUnavailable("ffmpeg: the imageio-ffmpeg package is not installed (pip install imageio-ffmpeg==0.8.1)") from None
    try:
        return imageio_ffmpeg.get_ffmpeg_exe()
    except RuntimeError as exc:  # the wheel's binary is missing or unusable
        raise CodecUnavailable(f"ffmpeg: {exc}; reinstall imageio-ffmpeg==0.8.1 or set BENCH_FFMPEG") from None


@lru_cache(maxsize=1)
def ffmpeg_version() -> str:
    """First line of `ffmpeg -version`, recorded with every result."""
    try:
        out = subprocess.run([ffmpeg_exe(), "-version"], capture_output=True, text=True, check=False).stdout
    except OSError as exc:
        raise CodecUnavailable(f"ffmpeg: cannot run {ffmpeg_exe()} ({exc})") from None
    return out.splitlines()[0] if out else "unknown"


@lru_cache(maxsize=None)
def has_encoder(name: str) -> bool:
    try:
        out = subprocess.run([ffmpeg_exe(), "-hide_banner", "-encoders"], capture_output=True, text=True).stdout
    except OSError:
        return False
    return any(line.split()[1:2] == [name] for line in out.splitlines() if line.strip())


def require_encoder(name: str, codec: str) -> None:
    if not has_encoder(name):
        raise CodecUnavailable(f"{codec}: {ffmpeg_exe()} has no {name} encoder; install imageio-ffmpeg==0.8.1 or set BENCH_FFMPEG")
