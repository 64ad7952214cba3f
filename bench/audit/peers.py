"""CompressAI's bench as the audit's peer: which of its codecs matches which adapter, how bench's rate
points become its `-q` values, what it needs to run with the same binary, and how it is run.

The peer is `python -m compressai.utils.bench <codec> DIR --qps=... --metrics psnr-rgb [...]` itself
(compressai 1.2.8 here), run as its own process by default so that its exact command can be repeated
by hand; `inprocess=True` calls the same `main(argv)` in this process (the tests: no second torch
start-up).  It prints one JSON object: dataset means over the pictures of bpp and PSNR-RGB per point
(its own float32 torch PSNR), which is what the audit compares with bench's mean curve.

What each CompressAI codec does, read in compressai 1.2.8 (`compressai/utils/bench/codecs.py`):
  jpeg, webp  Pillow `save(format=..., quality=q)` and Pillow's decoder: the very calls of bench's
              `jpeg` / `webp` adapters (WebP: `method` 4, Pillow's default).
  jpeg2000    the `ffmpeg` on PATH: `-pix_fmt yuv444p -c:v libopenjpeg -compression_level q`, a .jp2
              file, decoded by ffmpeg to PNG.  libopenjpeg's rate is 2 x compression_level (measured:
              q 10 gives 1.22 bpp where bench's ratio 20 gives 1.20), so bench's ratio r is q = r / 2.
              bench's own path is Pillow's OpenJPEG with the ICT on RGB and a raw .j2k: not the same path.
  vtm, hm     <build dir>/EncoderAppStatic + DecoderAppStatic (HM: TAppEncoderStatic/TAppDecoderStatic)
              with `-c cfg -q QP`: RGB -> Y'CbCr 4:4:4 8-bit by compressai.transforms.rgb2ycbcr (BT.709,
              full range), truncated to integers on the way in and out; HM also gets an MD5 picture
              hash SEI (`--SEIDecodedPictureHash`), `--Level=5.1`, `--CUNoSplitIntraACT=0` and
              `--ConformanceMode=1`.  The audit links bench's own encoder and decoder into a build dir
              under those names and gives both harnesses the same cfg.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from bench.codecs.jpeg import JPEG
from bench.codecs.jpeg2000 import JPEG2000
from bench.codecs.reference_software import HM, VTM, ReferenceSoftware
from bench.codecs.webp import WebP
from bench.core.errors import BenchError

# CompressAI's bench reads these suffixes (compressai/utils/bench/__main__.py IMG_EXTENSIONS)
PEER_SUFFIXES = (".jpg", ".jpeg", ".png", ".ppm", ".bmp", ".pgm", ".tif", ".tiff", ".webp")


def _integer(point, what: str) -> int:
    f = float(point)
    if not f.is_integer():
        raise BenchError(f"CompressAI's bench takes integer -q values; {what} {point!r} has none")
    return int(f)


def _j2k_level(ratio) -> int:
    f = float(ratio)
    if f == 1:  # no rate limit on either side
        return 0
    if not (f / 2).is_integer():
        raise BenchError(f"CompressAI's jpeg2000 codes rate 2 x compression_level: bench's ratio {ratio!r} has no integer "
                         "level (use even ratios, e.g. 10, 20, 40, 80, 160)")
    return int(f / 2)


@dataclass(frozen=True)
class Peer:
    """How CompressAI's bench runs the codec one of our adapters runs."""

    name: str  # CompressAI bench subcommand
    to_peer: Callable[[Any], int]  # bench point -> CompressAI -q value
    probe: Any  # bench's lowest-loss point (its -q value follows from to_peer)
    probe_what: str  # what the probe point is
    same_path: bool  # the two harnesses make the same calls: the audit must find ~0 BD-rate
    reference_tool: str | None = None  # "vtm" | "hm": a pass-through build measures the colour paths alone
    needs_ffmpeg: bool = False  # CompressAI calls `ffmpeg` from PATH


PEERS: dict[type, Peer] = {
    JPEG: Peer("jpeg", lambda p: _integer(p, "quality"), 100, "quality 100 (not lossless)", True),
    WebP: Peer("webp", lambda p: _integer(p, "quality"), 100, "quality 100 (lossy VP8)", True),
    JPEG2000: Peer("jpeg2000", _j2k_level, 1, "ratio 1 / compression_level 0: no rate limit (9/7 wavelet, not lossless)",
                   False, needs_ffmpeg=True),
    VTM: Peer("vtm", lambda p: _integer(p, "QP"), 0, "QP 0", False, reference_tool="vtm"),
    HM: Peer("hm", lambda p: _integer(p, "QP"), 0, "QP 0", False, reference_tool="hm"),
}


def peer_of(adapter) -> Peer | None:
    for cls, peer in PEERS.items():
        if type(adapter) is cls:
            return peer
    return None


def fmt_chroma(chroma: str) -> str:
    return {"444": "4:4:4", "422": "4:2:2", "420": "4:2:0"}.get(str(chroma), str(chroma))


def bench_colour(spec) -> str:
    """bench's HM/VTM colour path in words, e.g. "Y'CbCr 4:2:0 10-bit, BT.709 limited range, rounded"."""
    if spec.matrix == "rgb":
        return f"G, B, R planes (GBR coding) 4:4:4 {spec.bit_depth}-bit"
    matrix = {"bt709": "BT.709", "bt601": "BT.601", "bt2020": "BT.2020"}.get(spec.matrix, spec.matrix)
    return f"Y'CbCr {fmt_chroma(spec.chroma)} {spec.bit_depth}-bit, {matrix} {spec.range} range, rounded"


def differences(adapter, peer: Peer) -> list[str]:
    """What differs between bench's path and CompressAI's for this configuration (one line each)."""
    p = adapter.params
    out: list[str] = []
    if isinstance(adapter, JPEG):
        if p["subsampling"] is not None or p["optimize"]:
            out.append(f"bench's params subsampling={p['subsampling']}, optimize={p['optimize']}; CompressAI calls "
                       "save(format='JPEG', quality=q) with Pillow's defaults")
        else:
            out.append("none in the codec: both call Pillow save(format='JPEG', quality=q) and decode with Pillow")
    elif isinstance(adapter, WebP):
        if int(p["method"]) != 4:
            out.append(f"bench's method={p['method']}; CompressAI uses Pillow's default method 4")
        else:
            out.append("none in the codec: both call Pillow save(format='WEBP', quality=q) (method 4) and decode with Pillow")
    elif isinstance(adapter, JPEG2000):
        out += ["library: bench codes with Pillow's OpenJPEG; CompressAI with the libopenjpeg inside the ffmpeg on PATH "
                "(here the imageio-ffmpeg binary, put on PATH for the run)",
                f"colour: bench gives OpenJPEG RGB with mct={p['mct']} (the ICT, BT.601 in floating point, no integer "
                "Y'CbCr in between); CompressAI gives it ffmpeg's yuv444p (swscale BT.601 limited range, 8-bit integers)",
                f"container: bench writes a {'JP2 file' if p['jp2'] else 'raw .j2k codestream'}; CompressAI a .jp2 file "
                "(JP2 boxes, about 85 bytes more)",
                "rate point: bench's ratio r, CompressAI's compression_level r / 2 (libopenjpeg rate 2 x level)"]
    elif isinstance(adapter, ReferenceSoftware):
        s = adapter.spec
        out += [f"colour: bench {bench_colour(s)} (numpy); CompressAI Y'CbCr 4:4:4 8-bit, BT.709 full range (its "
                "rgb2ycbcr), truncated to integers on the way in and out",
                f"bit depths: bench --InputBitDepth=--InternalBitDepth=--OutputBitDepth={s.bit_depth}; CompressAI "
                "--InputBitDepth=8, the cfg's InternalBitDepth, decoder -d 8",
                "same encoder and decoder binaries (linked into CompressAI's build dir under the names it expects), "
                "same cfg file"]
        if s.chroma != "444":
            out.append(f"chroma: bench codes {fmt_chroma(s.chroma)}, CompressAI always 4:4:4, so the BD-rate also measures "
                       "the subsampling choice; codec.params.chroma=444 compares the same format")
        if isinstance(adapter, HM):
            out += [f"CrossComponentPrediction: bench gives --CrossComponentPrediction={int(s.chroma == '444')} on the "
                    "command line; CompressAI's command line has no place for it, so the audit's cfg copy for CompressAI "
                    "carries the same value",
                    "CompressAI's HM command adds an MD5 decoded-picture-hash SEI (--SEIDecodedPictureHash: bytes in its "
                    "rate), --Level=5.1, --CUNoSplitIntraACT=0 and --ConformanceMode=1"]
        if p["extra_args"]:
            out.append(f"bench's extra_args {list(p['extra_args'])} are not on CompressAI's command line")
    return out


def peer_cfg(adapter, folder: Path) -> Path:
    """The cfg CompressAI's bench gets: bench's own cfg, plus as cfg lines what bench's adapter puts on
    its command line for this chroma format (HM's CrossComponentPrediction), since CompressAI's command
    line has no place for them."""
    src = adapter.cfg_path()
    extra = [a[2:].split("=", 1) for a in adapter.chroma_args() if a.startswith("--") and "=" in a]
    if not extra:
        return src
    text = src.read_text()
    lines = "".join(f"{k:<30}: {v}\n" for k, v in extra)
    marker = "### DO NOT ADD ANYTHING BELOW THIS LINE ###"
    head = f"# lic-bench audit: {src.name} plus the chroma options bench gives on its command line\n"
    text = text.replace(marker, lines + "\n" + marker) if marker in text else text + "\n" + lines
    out = folder / f"compressai-{src.name}"
    out.write_text(head + text)
    return out


def link_build(adapter, folder: Path) -> Path:
    """A build dir holding bench's resolved encoder and decoder under the names CompressAI's bench runs."""
    from bench.audit.passthrough import BINARIES

    tool = "vtm" if isinstance(adapter, VTM) else "hm"
    folder.mkdir(parents=True, exist_ok=True)
    for target, name in zip(adapter.binaries(), BINARIES[tool]):
        link = folder / name
        if link.is_symlink() or link.exists():
            link.unlink()
        link.symlink_to(os.path.abspath(target))
    return folder


@dataclass
class PeerRun:
    """One run of CompressAI's bench: its command, its JSON (dataset means per -q value) or its error."""

    command: str
    qps: list[int]
    results: dict[str, list] = field(default_factory=dict)
    name: str = ""
    description: str = ""
    error: str = ""
    log: str = ""
    version: str = ""

    def point(self, q: int) -> dict[str, float]:
        """{'bpp': ..., 'psnr_rgb': ...} at -q value q (CompressAI lists its results by sorted q)."""
        i = sorted(self.qps).index(int(q))
        return {"bpp": float(self.results["bpp"][i]), "psnr_rgb": float(self.results["psnr-rgb"][i])}


def compressai_version() -> str:
    from importlib import metadata

    try:
        return metadata.version("compressai")
    except metadata.PackageNotFoundError:
        return ""


def _ffmpeg_shim(folder: Path) -> Path:
    """A folder whose `ffmpeg` is the pinned imageio-ffmpeg binary (CompressAI's jpeg2000 calls `ffmpeg`)."""
    import imageio_ffmpeg

    folder.mkdir(parents=True, exist_ok=True)
    link = folder / "ffmpeg"
    if not link.exists():
        link.symlink_to(imageio_ffmpeg.get_ffmpeg_exe())
    return folder


@contextlib.contextmanager
def _environ(updates: dict[str, str]):
    old = {k: os.environ.get(k) for k in updates}
    os.environ.update(updates)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def run_compressai(peer: Peer, image_dir: Path, qps: list[int], extra: list[str], workdir: Path, *, jobs: int = 1,
                   inprocess: bool = False, timeout: float | None = None) -> PeerRun:
    """Run CompressAI's bench on every picture in image_dir at the -q values qps."""
    version = compressai_version()
    qps = sorted(set(int(q) for q in qps))
    argv = [peer.name, str(image_dir), f"--qps={','.join(str(q) for q in qps)}", "-j", str(int(jobs)), *extra,
            "--metrics", "psnr-rgb"]
    env: dict[str, str] = {}
    if peer.needs_ffmpeg and not shutil.which("ffmpeg"):
        env["PATH"] = f"{_ffmpeg_shim(workdir / 'ffmpeg-shim')}{os.pathsep}{os.environ.get('PATH', '')}"
    shown = ("PATH=" + shlex.quote(env["PATH"].split(os.pathsep)[0]) + ":$PATH " if env else "") + shlex.join(
        ["python", "-m", "compressai.utils.bench", *argv])
    run = PeerRun(shown + (" (run in-process)" if inprocess else ""), qps, version=version)
    if not version:
        run.error = "compressai is not installed (pip install compressai)"
        return run
    if inprocess:
        out, err = io.StringIO(), io.StringIO()
        try:
            from compressai.utils.bench.__main__ import main as compressai_main

            with _environ(env), contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
                compressai_main(argv)
            code = 0
        except SystemExit as exc:  # its run_command exits 1 when a binary fails
            code = exc.code if isinstance(exc.code, int) else 1
        except Exception as exc:
            code, run.error = 1, f"{type(exc).__name__}: {exc}".splitlines()[0]
        stdout, stderr = out.getvalue(), err.getvalue()
    else:
        try:
            proc = subprocess.run([sys.executable, "-m", "compressai.utils.bench", *argv], capture_output=True, text=True,
                                  env={**os.environ, **env, "PYTHONWARNINGS": "ignore"}, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            run.error = f"CompressAI's bench ran past {timeout} s"
            return run
        code, stdout, stderr = proc.returncode, proc.stdout, proc.stderr
    run.log = stderr + ("\n--- stdout ---\n" + stdout if code else "")
    if code and not run.error:
        tail = [ln.strip() for ln in (stderr + "\n" + stdout).splitlines() if ln.strip()]
        run.error = f"CompressAI's bench exited {code}: " + (" | ".join(tail[-3:]) if tail else "no output")
    if run.error:
        return run
    start = stdout.find("{")
    try:
        data = json.loads(stdout[start:]) if start >= 0 else None
    except ValueError as exc:
        data, run.error = None, f"CompressAI's bench printed no JSON ({exc})"
    if data is not None:
        run.name, run.description = str(data.get("name", "")), str(data.get("description", ""))
        run.results = data.get("results", {})
        missing = [k for k in ("bpp", "psnr-rgb") if len(run.results.get(k, [])) != len(qps)]
        if missing:
            run.error = f"CompressAI's bench gave no {', '.join(missing)} for every -q value"
    elif not run.error:
        run.error = "CompressAI's bench printed no JSON"
    return run


def image_folder(images, folder: Path) -> Path:
    """The pictures, and only them, as links in one folder (CompressAI's bench reads a whole folder)."""
    folder.mkdir(parents=True, exist_ok=True)
    for i, im in enumerate(images):
        suffix = Path(im.path).suffix.lower()
        if suffix not in PEER_SUFFIXES:
            raise BenchError(f"{im.path}: CompressAI's bench reads only {', '.join(PEER_SUFFIXES)} files")
        (folder / f"{i:04d}{suffix}").symlink_to(os.path.abspath(im.path))
    return folder


def fresh_dir(prefix: str) -> Path:
    return Path(tempfile.mkdtemp(prefix=prefix))
