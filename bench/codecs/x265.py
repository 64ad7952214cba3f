"""HEVC intra with libx265 through the pinned ffmpeg: fixed QP, every picture intra, raw Annex-B.

Traps handled here (FIELD-NOTES, "x265 traps"), each checked again on every encode from x265's own
log so that a future ffmpeg/x265 that changes behaviour fails loudly instead of silently:
  - `tune=psnr` inside -x265-params is ignored: we pass ffmpeg's `-tune psnr` (psy-rd off; without
    it 4:4:4 chroma also gets +6 QP).
  - `qp=N` codes the I picture at N-3 unless `ipratio=1`.
  - x265 writes a ~2.2 KB SEI with its options unless `info=0`.
  - CRF is the default rate control: `qp=` and `keyint=1` make it fixed-QP all-intra.
  - x265 ignores an option it does not know (`lossles=1`: "Unknown option", and the row would be lossy
    and "ok"), so every encode log is read for the encoder's complaints, and `check()` makes one trial
    encode of a 64x64 picture with the configured parameters: a misspelt option, a bad value or an
    unknown preset is one error line before any unit runs.
"""

from __future__ import annotations

import re
import tempfile
from pathlib import Path

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, join, run_process
from bench.codecs.ffmpeg import (PIX_FMT, colour_spec, decode_raw, ffmpeg_exe, ffmpeg_version, probe_picture, raw_input_args,
                                 refused_configuration, require_encoder, rgb_to_raw)
from bench.core.errors import BenchError

PRESETS = ("ultrafast", "superfast", "veryfast", "faster", "fast", "medium", "slow", "slower", "veryslow", "placebo")
TUNES = ("psnr", "ssim", "grain", "zerolatency", "fastdecode", "animation")
RATE_KEYS = ("qp", "crf", "bitrate", "keyint")  # the rate point and all-intra are the adapter's, never x265_params'
# lines in which x265 (or ffmpeg's libx265 wrapper) says it did not take what it was given
COMPLAINT = re.compile(r"\[libx265 @ [^\]]+\] ((?:Unknown option|Invalid value|Error)[^\n]*)|x265 \[error\]: ([^\n]*)")


class X265(Codec):
    point_name = "qp"
    point_type = int
    point_range = (0, 51)  # x265 --qp
    revision = 1

    @classmethod
    def defaults(cls):
        return {
            "chroma": "444",
            "bit_depth": 10,
            "matrix": "bt709",
            "range": "limited",
            "preset": "veryslow",
            "tune": "psnr",
            "x265_params": {},  # extra key=value pairs, e.g. {lossless: 1}
        }

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        p = self.params
        self.spec = colour_spec("x265", p["chroma"], p["bit_depth"], p["matrix"], p["range"], set(PIX_FMT))
        if p["preset"] not in PRESETS:
            raise BenchError(f"x265: preset {p['preset']!r} unknown; choose from {', '.join(PRESETS)}")
        if p["tune"] not in (None, "", *TUNES):
            raise BenchError(f"x265: tune {p['tune']!r} unknown; choose from {', '.join(TUNES)} (or null)")
        extra = p["x265_params"] or {}
        if not isinstance(extra, dict):
            raise BenchError(f"x265: x265_params must be a mapping of x265 options, e.g. {{lossless: 1}}, not {extra!r}")
        fixed = sorted(set(map(str, extra)) & set(RATE_KEYS))
        if fixed:
            raise BenchError(f"x265: x265_params may not set {', '.join(fixed)}: the rate point is codec.points, every picture intra")

    def version(self) -> str:
        return f"libx265 via {ffmpeg_version()}"

    def check(self) -> None:
        require_encoder("libx265", "x265")
        with tempfile.TemporaryDirectory(prefix="bench-probe-") as tmp:
            try:
                self.encode(probe_picture(), 32, Path(tmp))
            except (RuntimeError, OSError) as exc:
                raise refused_configuration("x265", exc) from None

    def colour(self):
        return self.spec.record()

    def _x265_params(self, qp: int) -> str:
        params = {"qp": int(qp), "keyint": 1, "ipratio": 1, "info": 0, "pools": self.threads, "frame-threads": 1}
        params.update(dict(self.params["x265_params"] or {}))
        return ":".join(f"{k}={v}" for k, v in params.items())

    def command(self, width: int, height: int, qp: int, out: Path) -> list[str]:
        cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "info", *raw_input_args(self.spec, width, height),
               "-frames:v", "1", "-c:v", "libx265", "-preset", str(self.params["preset"])]
        if self.params["tune"]:
            cmd += ["-tune", str(self.params["tune"])]
        return cmd + ["-x265-params", self._x265_params(qp), "-f", "hevc", "-y", str(out)]

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        raw, w, h = rgb_to_raw(rgb, self.spec)
        out = workdir / "bitstream.hevc"
        cmd = self.command(w, h, int(point), out)
        _, log, timing = run_process(cmd, stdin=raw, what="ffmpeg libx265")
        self._verify(log, int(point))
        return Encoded(out, join(cmd), timing, {"coded_w": w, "coded_h": h, "width": rgb.shape[1], "height": rgb.shape[0]}, log)

    def _verify(self, log: str, qp: int) -> None:
        """Fail the unit when x265 did not code what was asked (a returning trap, an option it ignored)."""
        m = COMPLAINT.search(log)
        if m:
            raise RuntimeError(f"x265 did not take its options: {(m.group(1) or m.group(2)).strip()}")
        extra = dict(self.params["x265_params"] or {})
        if str(extra.get("lossless", 0)) not in ("0", "False", "false"):
            return
        m = re.search(r"frame I:\s+\d+, Avg QP:\s*([\d.]+)", log)
        if not m:
            raise RuntimeError("x265 log has no 'frame I: ... Avg QP' line; cannot verify the coded QP")
        if abs(float(m.group(1)) - qp) > 1e-6:
            raise RuntimeError(f"x265 coded the I picture at QP {m.group(1)}, not the requested {qp}")
        if self.params["tune"] == "psnr":
            if "psy-rd=" in log or "Cb/Cr QP Offset" in log:
                raise RuntimeError("x265 ran with psy-rd or a chroma QP offset although -tune psnr was asked")

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        m = enc.meta
        return decode_raw(enc.path, self.spec, m["coded_w"], m["coded_h"], m["width"], m["height"], "hevc", self.threads)
