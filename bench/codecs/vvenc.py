"""VVC intra with libvvenc through the pinned ffmpeg; decoded by ffmpeg's native VVC decoder.

libvvenc in this ffmpeg takes yuv420p10le only.  Traps (FIELD-NOTES, "vvenc traps"): perceptual QP
adaptation is on by default (`-qpa 0` for a PSNR anchor), and the intra picture gets QP-3 unless
`IntraPeriod=1:IntraQPOffset=0`.  vvenc's own log is checked on every encode.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, join, run_process
from bench.codecs.ffmpeg import decode_raw, ffmpeg_exe, ffmpeg_version, raw_input_args, require_encoder, rgb_to_raw
from bench.core.colour import ColourSpec


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
        self.spec = ColourSpec(matrix=self.params["matrix"], range=self.params["range"], chroma="420", bit_depth=10)

    def version(self) -> str:
        return f"libvvenc via {ffmpeg_version()}"

    def check(self) -> None:
        require_encoder("libvvenc", "vvenc")

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
