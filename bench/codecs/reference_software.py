"""HM (HEVC) and VTM (VVC) reference software, all-intra at fixed QP, run from the user's own builds.

Why it is built this way:
  - No registry reachable here ships HM or VTM (FIELD-NOTES), so the adapters take binaries the
    user built (codecs/README.md).  Where they are comes from, in this order: the codec params
    `encoder` / `decoder` (a path, or a name looked up on PATH), then `BENCH_HM_ENCODER` /
    `BENCH_HM_DECODER` (`BENCH_VTM_...`), then `BENCH_HM_DIR` / `BENCH_VTM_DIR`, a checkout or folder
    searched for the usual build outputs (`bin/TAppEncoderStatic`, `bin/EncoderAppStatic`, ...).
    Nothing is picked up from PATH unasked: the binary that made a result must be a deliberate one.
    Without any of these, `check()` raises CodecUnavailable naming what to set.
  - Colour is ours, not the encoder's: the RGB picture becomes integer Y'CbCr planes in numpy
    (bench.colour: BT.709 limited range by default, rounded, 10 bits), written as a raw planar
    .yuv (16-bit little-endian samples above 8 bits); the decoder's .yuv comes back through the same
    module.  HM/VTM never see RGB and never convert colour (no InputColourSpaceConvert).  10-bit
    4:4:4 limited range makes the conversion itself exact, so the codec's loss is all that is
    measured.  `matrix: rgb` (4:4:4 only) writes G, B, R as the three planes instead (sample << 2 at
    10 bits), the GBR coding JPEG AI's HM anchor uses; the encoder then treats B and R as chroma.
  - 4:2:0 needs even sizes: the picture is edge-padded to even (pad_even) and the decoded RGB
    cropped back; bpp is always over the original pixels (the harness does that).  Sizes that are not
    a multiple of the minimum CU are padded by the encoder itself (`ConformanceWindowMode=1`) and
    cropped again by the conformance window, so both .yuv files have the even-padded size.
  - Everything that depends on the picture or the point is on the command line, after `-c cfg` so
    it overrides the cfg: size, `InputBitDepth`/`InternalBitDepth`/`OutputBitDepth`,
    `InputChromaFormat`/`ChromaFormatIDC`, `FramesToBeEncoded=1`, `QP`.  The cfg files
    (codecs/hm/, codecs/vtm/) hold only the coding tools, and their sha256 is part of `version()`,
    so editing one invalidates cached rows.
  - HM's `main-RExt` profile has no inter 4:2:0 10-bit sub-profile; `IntraConstraintFlag 1` (in
    the cfg) makes it resolve to main_444_10_intra or main_10_intra, which is what all-intra is.
    HM's CrossComponentPrediction is 4:4:4-only, so it is set per chroma format on the command line.
  - Checked on every unit: the encoder's log must report one I slice at exactly the requested QP
    (HM: "( I-SLICE, nQP 32 QP 32 )", VTM: "( IDR_N_LP, I-SLICE, QP 32 )"), and the decoder's output
    must equal the encoder's own reconstruction (`check_recon`): a decoder/encoder mismatch fails
    the unit instead of being measured (FIELD-NOTES pitfall 3).  A log that reports an unknown
    option fails it too (older builds warn and go on without the option).
  - The cfg follows the test conditions of the binary it runs with.  The JVET CTC all-intra file
    changed at VTM-16.0 (JVET-Y0085: deblocking offsets beta -2 / tc -5, +0.40 % BD-rate when missed),
    so a VTM build gets codecs/vtm/encoder_intra_vtm.cfg from 16.0 on and encoder_intra_vtm15.cfg for
    13.0-15.x, picked from the version its encoder prints (`cfg_version: auto`), or the set named by
    `cfg_version`, or the user's own `cfg` file.  A version no shipped file covers, or a banner
    without a version, is refused rather than guessed.  Every row says which file and why (columns
    `cfg`, `cfg_version`, `cfg_reason`), and the file's sha256 is part of the configuration.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.codecs.base import Codec, Decoded, Encoded, join, run_process
from bench.core.assets import codecs_dir
from bench.core.colour import ColourSpec, pad_even, planes_to_rgb, rgb_to_planes
from bench.core.errors import BenchError, CodecUnavailable


def _readme() -> Path:
    """How to build HM/VTM and point at them (shipped with the package)."""
    return codecs_dir() / "README.md"


@lru_cache(maxsize=None)
def _banner(exe: str, mtime: float) -> str:
    """The version line a reference binary prints with its help text (mtime: a rebuilt binary re-runs)."""
    try:
        proc = subprocess.run([exe, "--help"], capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise CodecUnavailable(f"{exe}: cannot run it for its version ({exc})") from None
    lines = [ln.strip() for ln in (proc.stdout + "\n" + proc.stderr).splitlines() if ln.strip()]
    for line in lines:
        if "version" in line.lower():
            return line
    return lines[0] if lines else "unknown version"


_VERSION = re.compile(r"\bVersion\s*\[?\s*(\d+)\.(\d+)", re.IGNORECASE)
_UNKNOWN_OPTION = re.compile(r"unknown (option|parameter)[^\n]*", re.IGNORECASE)


def banner_version(banner: str) -> tuple[int, int] | None:
    """(major, minor) from a banner like 'VTM Encoder Version 23.13 [Linux]...' or 'HM software: Encoder
    Version [18.0] (including RExt)...'; None when it names no version."""
    m = _VERSION.search(banner)
    return (int(m[1]), int(m[2])) if m else None


def _fmt_version(v: tuple[int, int] | None) -> str:
    return "?" if v is None else f"{v[0]}.{v[1]}"


@dataclass(frozen=True)
class CfgSet:
    """One shipped cfg and the encoder versions whose test conditions it follows: [since, until)."""

    key: str  # the value of codec.params.cfg_version that names it
    file: str  # relative to codecs/
    since: tuple[int, int] | None
    until: tuple[int, int] | None
    what: str  # one line: whose test conditions, and what sets them apart

    def covers(self, v: tuple[int, int]) -> bool:
        return (self.since is None or v >= self.since) and (self.until is None or v < self.until)

    def span(self, label: str) -> str:
        """'VTM 13.0 <= version < 16.0', 'VTM version >= 16.0'."""
        lo = f"{_fmt_version(self.since)} <= " if self.since else ""
        hi = f" < {_fmt_version(self.until)}" if self.until else ""
        return f"{label} {lo}version{hi}" if self.until else f"{label} version >= {_fmt_version(self.since)}"


@dataclass(frozen=True)
class CfgChoice:
    """The cfg a configuration codes with, and why (recorded in every row)."""

    path: Path
    version: str  # the shipped set's key, or "user"
    reason: str
    shown: str  # how rows name the file: codecs/<set file>, or the user's path

    def columns(self) -> dict[str, str]:
        return {"cfg": self.shown, "cfg_version": self.version, "cfg_reason": self.reason}


class ReferenceSoftware(Codec):
    point_name = "qp"
    point_type = int
    max_qp: ClassVar[int] = 51
    revision = 1
    path_params = ("encoder", "decoder", "cfg")

    label: ClassVar[str] = ""
    env: ClassVar[str] = ""  # prefix of the environment variables, e.g. BENCH_HM
    encoder_names: ClassVar[tuple[str, ...]] = ()
    decoder_names: ClassVar[tuple[str, ...]] = ()
    cfg_sets: ClassVar[tuple[CfgSet, ...]] = ()  # shipped cfgs, by the encoder versions they follow
    suffix: ClassVar[str] = ".bin"
    default_chroma: ClassVar[str] = "444"

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {
            "encoder": None,  # path (or name on PATH); else <ENV>_ENCODER, else found under <ENV>_DIR
            "decoder": None,
            "cfg": None,  # your own cfg file; None: a shipped one (cfg_version)
            "cfg_version": "auto",  # auto: the shipped cfg for the encoder's version banner; or a set's key
            "chroma": cls.default_chroma,  # "444" | "420"
            "bit_depth": 10,
            "matrix": "bt709",  # bt709 | bt601 | bt2020 | rgb (GBR planes, 4:4:4 only)
            "range": "limited",
            "check_recon": True,  # decoder output must equal the encoder's reconstruction
            "verify_qp": True,  # the log must show one I slice at the requested QP
            "extra_args": [],  # more encoder options, e.g. ["--SEIDecodedPictureHash=1"]
        }

    def __init__(self, threads: int = 1, **params):
        super().__init__(threads, **params)
        p = self.params
        chroma, matrix = str(p["chroma"]), str(p["matrix"])
        if matrix == "rgb" and chroma != "444":
            raise BenchError(f"{self.label}: matrix 'rgb' (GBR coding) needs chroma 444, not {chroma}")
        try:
            self.spec = ColourSpec(matrix=matrix, range="full" if matrix == "rgb" else p["range"], chroma=chroma,
                                   bit_depth=int(p["bit_depth"]))
        except (TypeError, ValueError) as exc:
            raise BenchError(f"{self.label}: {exc}") from None
        if not isinstance(p["extra_args"], (list, tuple)):
            raise BenchError(f"{self.label}: extra_args must be a list of options")
        p["cfg_version"] = str(p["cfg_version"] if p["cfg_version"] is not None else "auto")
        keys = [c.key for c in self.cfg_sets]
        if p["cfg_version"] != "auto" and p["cfg_version"] not in keys:
            raise BenchError(f"{self.label}: cfg_version {p['cfg_version']!r} is not one of auto, {', '.join(keys)}")
        if p["cfg"] and p["cfg_version"] != "auto":
            raise BenchError(f"{self.label}: give codec.params.cfg (your file) or codec.params.cfg_version (a shipped one), not both")
        self._choice: CfgChoice | None = None

    # ---- where the binaries and the cfg are ------------------------------------------------------
    def _resolve(self, which: str) -> str:
        names = self.encoder_names if which == "encoder" else self.decoder_names
        var = f"{self.env}_{which.upper()}"
        value, source = self.params[which], f"codec.params.{which}"
        if not value and os.environ.get(var):
            value, source = os.environ[var], var
        if value:
            value = os.path.expanduser(str(value))
            exe = value if os.sep in value else shutil.which(value)
            if not exe or not os.path.isfile(exe) or not os.access(exe, os.X_OK):
                raise CodecUnavailable(f"{self.label}: {which} {value!r} (from {source}) is not an executable file; see {_readme()}")
            return exe
        folder = os.environ.get(f"{self.env}_DIR")
        if folder:
            root = Path(os.path.expanduser(folder))
            for name in names:
                for cand in [root / name, root / "bin" / name,
                             *sorted(Path(p) for p in glob.glob(str(root / "bin" / "umake" / "*" / "*" / "release" / name)))]:
                    if cand.is_file() and os.access(cand, os.X_OK):
                        return str(cand)
            raise CodecUnavailable(f"{self.label}: no {' or '.join(names)} under {self.env}_DIR={folder} "
                                   f"(looked in it, bin/ and bin/umake/*/*/release/); see {_readme()}")
        raise CodecUnavailable(
            f"{self.label}: {which} not configured; set {self.env}_DIR to your built {self.label} checkout "
            f"(or {self.env}_ENCODER and {self.env}_DECODER, or codec.params.encoder=... codec.params.decoder=...); "
            f"how to build it: {_readme()}")

    def binaries(self) -> tuple[str, str]:
        """The encoder and decoder this configuration runs (bench audit hands the same ones to CompressAI)."""
        return self._resolve("encoder"), self._resolve("decoder")

    def encoder_banner(self) -> str:
        enc = self._resolve("encoder")
        return _banner(enc, os.path.getmtime(enc))

    def cfg_choice(self) -> CfgChoice:
        """Which cfg, and why: the user's file, the shipped set named by cfg_version, or (auto) the shipped
        set whose versions include the one in the encoder's banner.  Refuses rather than guesses."""
        if self._choice is not None:
            return self._choice
        p = self.params
        if p["cfg"]:
            path = Path(os.path.expanduser(str(p["cfg"])))
            choice = CfgChoice(path, "user", "codec.params.cfg (your own file)", str(path))
        else:
            banner = self.encoder_banner()
            found = banner_version(banner)
            sets = "; ".join(f"{c.key} = {c.span(self.label)}" for c in self.cfg_sets)
            if p["cfg_version"] != "auto":
                cs = next(c for c in self.cfg_sets if c.key == p["cfg_version"])
                reason = f"codec.params.cfg_version={cs.key} ({cs.what}); encoder banner: {self.label} {_fmt_version(found)}"
            else:
                if found is None:
                    raise CodecUnavailable(
                        f"{self.label}: no version in the encoder's banner {banner!r}, so no cfg can be chosen for it; "
                        f"set codec.params.cfg_version ({sets}) or codec.params.cfg=/path/to/your.cfg")
                cs = next((c for c in self.cfg_sets if c.covers(found)), None)
                if cs is None:
                    raise CodecUnavailable(
                        f"{self.label} {_fmt_version(found)}: no shipped cfg follows this version's test conditions "
                        f"({sets}); give that version's own file, codec.params.cfg=/path/to/checkout/cfg/..., "
                        f"or force a shipped one with codec.params.cfg_version")
                reason = f"auto: encoder banner says {self.label} {_fmt_version(found)} -> {cs.what}"
            choice = CfgChoice(codecs_dir() / cs.file, cs.key, reason, f"codecs/{cs.file}")
        if not choice.path.is_file():
            raise CodecUnavailable(f"{self.label}: config file {choice.path} not found")
        self._choice = choice
        return choice

    def cfg_path(self) -> Path:
        return self.cfg_choice().path

    def check(self) -> None:
        self._resolve("encoder")
        self._resolve("decoder")
        self.cfg_choice()

    def version(self) -> str:
        enc, dec = self.binaries()
        choice = self.cfg_choice()
        return (f"{_banner(enc, os.path.getmtime(enc))} | decoder: {_banner(dec, os.path.getmtime(dec))} | "
                f"cfg {choice.shown} ({'your file' if choice.version == 'user' else self.label + ' set ' + choice.version})")

    def files(self, point=None) -> dict[str, str]:
        """The binaries and the cfg: a rebuild under the same version banner, or an edited cfg, is a new
        configuration (their sha256 enters the identity)."""
        if point is not None:
            return {}
        return {"encoder": self._resolve("encoder"), "decoder": self._resolve("decoder"), "cfg": str(self.cfg_path())}

    def check_point(self, point):
        point = super().check_point(point)
        lo = -6 * (int(self.spec.bit_depth) - 8)  # -QpBdOffset
        if not lo <= point <= self.max_qp:
            raise BenchError(f"{self.label} QP {point} is out of range [{lo}, {self.max_qp}] at {self.spec.bit_depth} bits")
        return point

    def colour(self):
        return self.spec.record()

    # ---- planes <-> raw .yuv ---------------------------------------------------------------------
    def _planes(self, rgb: np.ndarray) -> tuple[list[np.ndarray], int, int]:
        src = pad_even(rgb) if self.spec.chroma == "420" else rgb
        h, w = src.shape[:2]
        if self.spec.matrix == "rgb":
            shift = int(self.spec.bit_depth) - 8
            planes = [src[..., c].astype(np.uint16) << shift for c in (1, 2, 0)]  # G, B, R
        else:
            planes = rgb_to_planes(src, self.spec)
        return planes, w, h

    def _rgb(self, planes: list[np.ndarray]) -> np.ndarray:
        if self.spec.matrix == "rgb":
            shift = int(self.spec.bit_depth) - 8
            half = (1 << shift) >> 1
            g, b, r = ((p.astype(np.int32) + half) >> shift for p in planes)
            return np.clip(np.stack([r, g, b], axis=-1), 0, 255).astype(np.uint8)
        return planes_to_rgb(planes, self.spec)

    def _sample_dtype(self):
        return np.dtype(np.uint8) if int(self.spec.bit_depth) == 8 else np.dtype("<u2")

    def _to_bytes(self, planes: list[np.ndarray]) -> bytes:
        dt = self._sample_dtype()
        return b"".join(np.ascontiguousarray(p.astype(dt)).tobytes() for p in planes)

    def _plane_shapes(self, w: int, h: int) -> list[tuple[int, int]]:
        cw, ch = (w, h) if self.spec.chroma == "444" else (w // 2, h // 2)
        return [(h, w), (ch, cw), (ch, cw)]

    def _from_bytes(self, buf: bytes, w: int, h: int) -> list[np.ndarray]:
        """Planes of a w x h picture; a file of the size padded to the 8-sample minimum CU is cropped."""
        dt = self._sample_dtype()
        for pw, ph in ((w, h), (-(-w // 8) * 8, -(-h // 8) * 8)):
            shapes = self._plane_shapes(pw, ph)
            if len(buf) == sum(a * b for a, b in shapes) * dt.itemsize:
                data, out, pos = np.frombuffer(buf, dtype=dt), [], 0
                for (sh, sw), (th, tw) in zip(shapes, self._plane_shapes(w, h)):
                    out.append(data[pos : pos + sh * sw].reshape(sh, sw)[:th, :tw].astype(np.uint16))
                    pos += sh * sw
                return out
        need = sum(a * b for a, b in self._plane_shapes(w, h)) * dt.itemsize
        raise RuntimeError(f"{self.label} decoder wrote {len(buf)} bytes, expected {need} for {w}x{h} "
                           f"{self.spec.chroma} at {self.spec.bit_depth} bits")

    # ---- the two runs ----------------------------------------------------------------------------
    def chroma_args(self) -> list[str]:
        """Options that depend on the chroma format (subclasses)."""
        return []

    def command(self, yuv: Path, out: Path, recon: Path | None, width: int, height: int, qp: int) -> list[str]:
        bd, c = int(self.spec.bit_depth), self.spec.chroma
        cmd = [self._resolve("encoder"), "-c", str(self.cfg_path()), "-i", str(yuv), "-b", str(out)]
        if recon is not None:
            cmd += ["-o", str(recon)]
        cmd += [f"--SourceWidth={width}", f"--SourceHeight={height}", "--FrameRate=1", "--FramesToBeEncoded=1",
                f"--QP={int(qp)}", f"--InputBitDepth={bd}", f"--InternalBitDepth={bd}", f"--OutputBitDepth={bd}",
                f"--InputChromaFormat={c}", f"--ChromaFormatIDC={c}", "--ConformanceWindowMode=1",
                *self.chroma_args(), *[str(a) for a in self.params["extra_args"]]]
        return cmd

    def encode(self, rgb: np.ndarray, point, workdir: Path) -> Encoded:
        qp = int(point)
        planes, w, h = self._planes(rgb)
        yuv = workdir / "input.yuv"
        yuv.write_bytes(self._to_bytes(planes))
        out = workdir / f"bitstream{self.suffix}"
        recon = workdir / "recon.yuv" if self.params["check_recon"] else None
        cmd = self.command(yuv, out, recon, w, h, qp)
        stdout, stderr, timing = run_process(cmd, what=f"{self.label} encoder")
        log = stdout.decode("utf-8", "replace") + stderr
        yuv.unlink()
        unknown = _UNKNOWN_OPTION.search(log)
        if unknown:  # older builds only warn: the option would silently not apply
            raise RuntimeError(f"{self.label} encoder: {unknown[0].strip()} (check the cfg against this build, or extra_args)")
        if self.params["verify_qp"]:
            self._verify(log, qp)
        if not out.is_file() or out.stat().st_size == 0:
            raise RuntimeError(f"{self.label} encoder exited 0 but wrote no bitstream")
        meta = {"coded_w": w, "coded_h": h, "width": rgb.shape[1], "height": rgb.shape[0],
                "recon": str(recon) if recon else ""}
        return Encoded(out, join(cmd), timing, meta, log, extra=self.cfg_choice().columns())

    def _verify(self, log: str, qp: int) -> None:
        slices = re.findall(r"\b([IPB])-SLICE\b[^)\n]*?\bQP\s+(-?\d+)", log)
        if not slices:
            raise RuntimeError(f"{self.label} log has no '( I-SLICE, ... QP n )' line; cannot verify the coded QP "
                               f"(set codec.params.verify_qp=false for an encoder that prints none)")
        for kind, got in slices:
            if kind != "I" or int(got) != qp:
                raise RuntimeError(f"{self.label} coded a {kind} slice at QP {got}, not an I slice at the requested {qp}")

    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        m = enc.meta
        out = workdir / "decoded.yuv"
        cmd = [self._resolve("decoder"), "-b", str(enc.path), "-o", str(out), "-d", str(int(self.spec.bit_depth))]
        _, _, timing = run_process(cmd, what=f"{self.label} decoder")
        if not out.is_file():
            raise RuntimeError(f"{self.label} decoder exited 0 but wrote no {out.name}")
        buf = out.read_bytes()
        planes = self._from_bytes(buf, m["coded_w"], m["coded_h"])
        if m.get("recon") and Path(m["recon"]).is_file():
            ref = self._from_bytes(Path(m["recon"]).read_bytes(), m["coded_w"], m["coded_h"])
            if any(not np.array_equal(a, b) for a, b in zip(planes, ref)):
                raise RuntimeError(f"{self.label}: decoder output differs from the encoder's reconstruction")
        rgb = self._rgb(planes)[: m["height"], : m["width"]]
        return Decoded(np.ascontiguousarray(rgb), join(cmd), timing)


class HM(ReferenceSoftware):
    """HEVC test model (TAppEncoder/TAppDecoder), RExt all-intra, 4:4:4 10-bit by default."""

    label = "HM"
    env = "BENCH_HM"
    encoder_names = ("TAppEncoderStatic", "TAppEncoder")
    decoder_names = ("TAppDecoderStatic", "TAppDecoder")
    cfg_sets = (CfgSet("16", "hm/encoder_intra_main_rext.cfg", (16, 0), None,
                       "HM-16.x..18.0 RExt all-intra cfg (reviewed against HM's cfg/encoder_intra_main_rext.cfg)"),)
    suffix = ".hevc"
    default_chroma = "444"

    def chroma_args(self) -> list[str]:
        return [f"--CrossComponentPrediction={1 if self.spec.chroma == '444' else 0}"]


class VTM(ReferenceSoftware):
    """VVC test model (EncoderApp/DecoderApp), CTC all-intra tools, 4:2:0 10-bit by default."""

    label = "VTM"
    env = "BENCH_VTM"
    encoder_names = ("EncoderAppStatic", "EncoderApp")
    decoder_names = ("DecoderAppStatic", "DecoderApp")
    cfg_sets = (
        CfgSet("16", "vtm/encoder_intra_vtm.cfg", (16, 0), None,
               "VTM-16.0+ CTC all-intra cfg (JVET-Y0085 deblocking offsets beta -2 / tc -5)"),
        CfgSet("15", "vtm/encoder_intra_vtm15.cfg", (13, 0), (16, 0),
               "VTM-15 CTC all-intra cfg (deblocking offsets 0, before JVET-Y0085)"),
    )
    suffix = ".266"
    max_qp = 63
    default_chroma = "420"
