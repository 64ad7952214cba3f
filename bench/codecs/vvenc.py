"""VVC intra with libvvenc through the pinned ffmpeg; decoded by ffmpeg's native VVC decoder.

libvvenc in this ffmpeg takes yuv420p10le only.  Traps (FIELD-NOTES, "vvenc traps"): perceptual QP
adaptation is on by default (`-qpa 0` for a PSNR anchor), and the intra picture gets QP-3 unless
`IntraPeriod=1:IntraQPOffset=0`.  vvenc's own log is checked on every encode, and `check()` makes one
trial encode of a 64x64 picture with the configured parameters, so an unknown preset or vvenc option
is one error line before any unit runs.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, join, run_process
from bench.codecs.ffmpeg import (colour_spec, decode_raw, ffmpeg_exe, ffmpeg_version, probe_picture, raw_input_args,
                                 refused_configuration, require_encoder, rgb_to_raw)
from bench.core.errors import BenchError

PRESETS = ("faster", "fast", "medium", "slow", "slower")  # ffmpeg's libvvenc `-preset` values
RATE_KEYS = ("QP", "IntraPeriod", "IntraQPOffset", "RateControl", "TargetBitrate")  # the adapter's, never vvenc_params'


class VVenC(Codec):
    point_name = "qp"
    point_type = int
    point_range = (0, 63)  # VVC QP
    revision = 1

    @classmethod
    def defaults(cls):
        return {"preset": "medium", "matrix": "bt709", "range": "limited", "qpa": False, "vvenc_params": {}}

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        p = self.params
        self.spec = colour_spec("vvenc", "420", 10, p["matrix"], p["range"], {("420", 10)})  # libvvenc: yuv420p10le only
        if p["preset"] not in PRESETS:
            raise BenchError(f"vvenc: preset {p['preset']!r} unknown; choose from {', '.join(PRESETS)}")
        if not isinstance(p["qpa"], bool):
            raise BenchError(f"vvenc: qpa must be true or false, not {p['qpa']!r}")
        extra = p["vvenc_params"] or {}
        if not isinstance(extra, dict):
            raise BenchError(f"vvenc: vvenc_params must be a mapping of vvenc options, not {extra!r}")
        fixed = sorted(set(map(str, extra)) & set(RATE_KEYS))
        if fixed:
            raise BenchError(f"vvenc: vvenc_params may not set {', '.join(fixed)}: the rate point is codec.points, every picture intra")

    def version(self) -> str:
        return f"libvvenc via {ffmpeg_version()}"

    def check(self) -> None:
        require_encoder("libvvenc", "vvenc")
        with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
            try:
                self.encode(probe_picture(), 32, Path(tmp))
            except (RuntimeError, OSError) as exc:
                raise refused_configuration("vvenc", exc) from None

    def colour(self):
        return self.spec.record()

    def command(self, width: int, height: int, qp: int, out: Path) -> list[str]:
        vp = {"IntraPeriod": 1, "IntraQPOffset": 0, **dict(self.params["vvenc_params"] or {})}
        return [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "verbose", *raw_input_args(self.spec, width, height),
                "-frames:v", "1", "-c:v", "libvvenc", "-preset", str(self.params["preset"]),
                "-qp", str(int(qp)), "-qpa", "1" if self.params["qpa"] else "0", "-threads", str(self.threads),
                "-vvenc-params", ":".join(f"{k}={v}" for k, v in vp.items()), "-f", "vvc", "-y", str(out)]

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        raw, w, h = rgb_to_raw(rgb, self.spec)
        out = workdir / "bitstream.266"
        cmd = self.command(w, h, int(point), out)
        _, log, timing = run_process(cmd, stdin=raw, what="ffmpeg libvvenc")
        self._verify(log, int(point))
        log = "\n".join(line for line in log.splitlines() if "vvenc [" in line or line.startswith("vvenc"))
        return Encoded(out, join(cmd), timing, {"coded_w": w, "coded_h": h, "width": rgb.shape[1], "height": rgb.shape[0]}, log)

    def _verify(self, log: str, qp: int) -> None:
        def field(name):
            m = re.search(rf"{re.escape(name)}\s*:\s*(.+)", log)
            return m.group(1).strip() if m else None

        want = {"QP": str(qp), "Intra period (keyframe)": "1",
                "Perceptual optimization": "Enabled" if self.params["qpa"] else "Disabled"}
        for name, value in want.items():
            got = field(name)
            if got != value:
                raise RuntimeError(f"vvenc reports {name} = {got!r}, expected {value!r}")

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        m = enc.meta
        return decode_raw(enc.path, self.spec, m["coded_w"], m["coded_h"], m["width"], m["height"], "vvc", self.threads)
