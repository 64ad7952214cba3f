"""Reading test pictures: the one place that decides what "the original" is.

The input policy (README "Inputs, failures and exit codes"), applied before anything is coded or
measured; what it did is recorded in every row (`input_note`, empty for 8-bit RGB used as stored):

  - 8-bit RGB is used as stored (an `RGBX` padding byte is no channel and is left out).
  - 16-bit samples (PNG, TIFF; grey or colour) are scaled to 8 bits, round(v * 255 / 65535).  Pillow
    reads a 16-bit *colour* PNG or TIFF through its 8-bit high byte (truncation, not rounding), so
    those files are decoded at full precision instead: PNG by the pinned ffmpeg (its PNG decoder,
    asked for the file's own sample format, converts nothing), TIFF by tifffile.
  - 32-bit integer and floating-point samples are refused: they have no defined white level (is
    white 1.0, 255 or 65535?).  So are PNM files above 8 bits (convert them to 16-bit PNG).
  - Grey (and 1-bit) pictures are expanded to RGB with R = G = B, and the note says so; the PSNR of
    chroma planes such a picture does not have is left out by the metric (bench.metrics.psnr).
  - Palette pictures are converted to RGB (a table lookup: exact).
  - EXIF orientation is applied: the original is the picture a viewer displays.  An orientation
    value outside 1..8 refuses the picture.
  - Alpha: a fully opaque alpha channel is dropped (and said so); any transparent or translucent
    pixel refuses the picture, since compositing would invent a background the codec never saw.
  - Several frames (animated GIF/PNG, multi-page TIFF), CMYK, Lab, HSV, YCbCr and premultiplied
    alpha are refused: which frame, or which conversion, would be a guess.

A refused or unreadable picture raises BenchError: its units become failed rows with the reason.
"""

from __future__ import annotations

import functools
import subprocess
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from PIL import Image

from bench.core.errors import BenchError

POLICY_REVISION = 1  # bump when what the policy makes of a file changes: rows of such files are redone
ORIENTATION = {
    2: "mirrored left-right", 3: "rotated 180 degrees", 4: "mirrored top-bottom", 5: "transposed",
    6: "rotated 90 degrees clockwise", 7: "transversed", 8: "rotated 90 degrees counter-clockwise",
}
_PNG_COLOUR_16 = {2: ("rgb48be", 3), 4: ("ya16be", 2), 6: ("rgba64be", 4)}  # IHDR colour type -> ffmpeg format, channels


@dataclass(frozen=True)
class Original:
    """The picture every codec codes and every metric measures, and what was done to get it."""

    rgb: np.ndarray  # (H, W, 3) uint8, read-only
    note: str  # "" when the file is 8-bit RGB used as stored


class PictureRefused(BenchError):
    """The input policy does not measure this picture (the reason says why and what to do)."""


def _refuse(path, why: str):
    raise PictureRefused(f"picture {path} refused: {why}")


def _png_header(path: str) -> tuple[int, int] | None:
    """(bit depth, colour type) from a PNG's IHDR, or None for another format."""
    with open(path, "rb") as f:
        head = f.read(26)
    if head[:8] != b"\x89PNG\r\n\x1a\n" or head[12:16] != b"IHDR":
        return None
    return head[24], head[25]


def _png16_colour(path: str, colour_type: int, width: int, height: int) -> np.ndarray:
    """A 16-bit colour PNG at full precision, decoded by the pinned ffmpeg into its own sample format."""
    from bench.core.ffmpeg import ffmpeg_exe

    fmt, channels = _PNG_COLOUR_16[colour_type]
    cmd = [ffmpeg_exe(), "-hide_banner", "-nostdin", "-v", "error", "-i", str(path), "-frames:v", "1",
           "-f", "rawvideo", "-pix_fmt", fmt, "-"]
    proc = subprocess.run(cmd, capture_output=True, check=False)
    need = width * height * channels * 2
    if proc.returncode != 0 or len(proc.stdout) != need:
        tail = proc.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or ["no output"]
        raise BenchError(f"cannot read 16-bit PNG {path}: ffmpeg gave {len(proc.stdout)} bytes, expected {need} ({tail[0]})")
    return np.frombuffer(proc.stdout, dtype=">u2").reshape(height, width, channels).astype(np.uint16)


def _tiff_samples(path: str) -> np.ndarray:
    """A TIFF's samples at full precision (tifffile: Pillow reduces 16-bit colour to 8 bits and cannot open some
    layouts, e.g. 16-bit grey + alpha)."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if len(tif.pages) > 1:
            _refuse(path, f"it has {len(tif.pages)} pages; which one is the picture is a guess")
        page = tif.pages[0]
        if page.photometric not in (tifffile.PHOTOMETRIC.MINISBLACK, tifffile.PHOTOMETRIC.RGB):
            _refuse(path, f"TIFF photometric {page.photometric.name}: only grey and RGB samples are measured")
        a, axes = page.asarray(), page.axes
    if a.dtype not in (np.uint8, np.uint16):
        _refuse(path, f"its samples are {a.dtype}: no defined white level; convert it to 8- or 16-bit integers")
    if axes == "SYX":  # planar configuration: one plane per sample
        a = np.moveaxis(a, 0, -1)
    elif axes == "YX":
        a = a[..., None]
    elif axes != "YXS":
        _refuse(path, f"TIFF layout {axes!r} (shape {a.shape}) is not one picture")
    return a


def _tiff_bits(im: Image.Image) -> int:
    bits = im.tag_v2.get(258, 8)  # BitsPerSample: one value, or one per sample
    return max(bits) if isinstance(bits, tuple) else int(bits)


def _pnm_maxval(im: Image.Image) -> int:
    args = im.tile[0].args if im.tile else None  # Pillow keeps a PNM's maxval in its decoder arguments
    if isinstance(args, tuple) and len(args) > 1 and isinstance(args[1], int):
        return args[1]
    return 65535 if im.mode.startswith("I") else 255


def _samples(path: str, im: Image.Image) -> tuple[np.ndarray, list[str]]:
    """The file's samples as (H, W, C) uint8 or uint16, C = 1 grey, 2 grey+alpha, 3 RGB, 4 RGBA."""
    mode = im.mode
    if im.format == "TIFF" and (_tiff_bits(im) > 8 or mode in ("I", "F") or mode.startswith("I;16")):
        return _tiff_samples(path), []
    if im.format in ("PPM", "PGM", "PNM") and _pnm_maxval(im) != 255:
        _refuse(path, f"PNM with maxval {_pnm_maxval(im)} (not 255); convert it to PNG (8 or 16 bits)")
    png = _png_header(path) if im.format == "PNG" else None
    if "transparency" in im.info and mode in ("L", "RGB"):  # a transparent colour key (PNG tRNS): an alpha channel
        return np.asarray(im.convert("RGBA")), []
    if "transparency" in im.info and mode not in ("P", "PA"):
        _refuse(path, f"it has a transparent colour key at {mode} samples; lic-bench measures opaque RGB")
    if png and png[0] == 16 and png[1] in _PNG_COLOUR_16:
        return _png16_colour(path, png[1], *im.size), []
    if mode.startswith("I;16") or (mode == "I" and png and png[0] == 16):
        return np.asarray(im).astype(np.uint16)[..., None], []
    if mode in ("I", "F"):
        what = "32-bit integer" if mode == "I" else "floating-point"
        _refuse(path, f"its samples are {what} (mode {mode}): no defined white level; convert it to 8- or 16-bit integers")
    if mode == "1":
        return np.asarray(im.convert("L"))[..., None], ["1-bit picture read as grey 0/255"]
    if mode in ("P", "PA"):
        alpha = mode == "PA" or "transparency" in im.info
        return np.asarray(im.convert("RGBA" if alpha else "RGB")), ["palette picture converted to RGB (a table lookup)"]
    if mode == "L":
        return np.asarray(im)[..., None], []
    if mode in ("LA", "RGB", "RGBA"):
        return np.asarray(im), []
    if mode == "RGBX":  # the fourth byte is padding, not a channel
        return np.asarray(im)[..., :3], []
    if mode in ("RGBa", "La"):
        _refuse(path, f"premultiplied alpha (mode {mode}); save it with straight alpha or as RGB")
    _refuse(path, f"{mode} samples: converting them to RGB needs colour management; convert the file to RGB yourself")


def _orient(a: np.ndarray, orientation: int) -> np.ndarray:
    """EXIF orientation applied to (H, W, C) samples, as PIL.ImageOps.exif_transpose does (tested against it)."""
    ops = {
        2: lambda x: x[:, ::-1], 3: lambda x: x[::-1, ::-1], 4: lambda x: x[::-1],
        5: lambda x: x.transpose(1, 0, 2), 6: lambda x: np.rot90(x, -1), 7: lambda x: x.transpose(1, 0, 2)[::-1, ::-1],
        8: lambda x: np.rot90(x, 1),
    }
    return ops[orientation](a) if orientation in ops else a


def _scale16(a: np.ndarray) -> np.ndarray:
    """16-bit -> 8-bit samples, round(v * 255 / 65535) with halves up, in exact integer arithmetic."""
    return ((a.astype(np.uint32) * 510 + 65535) // 131070).astype(np.uint8)


def orientation_of(im: Image.Image) -> int:
    try:
        value = im.getexif().get(0x0112, 1)
    except Exception:  # a damaged EXIF block: no orientation can be read from it
        return 1
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


CACHE_PICTURES = 64  # load_original keeps at most this many pictures per process ...
CACHE_BYTES = 512 << 20  # ... and at most this many bytes of them, the newest picture always (see _Originals)


class _Originals:
    """load_original's cache: the most recently used pictures, at most CACHE_PICTURES of them and CACHE_BYTES
    in all, except that the newest is always kept whatever its size (a worker codes its next rate point next).

    Why by hand: functools.lru_cache bounds only the count (64 pictures of 12000x8000 are 18 GB in a worker),
    and cachetools' LRUCache (not a dependency) bounds the size but refuses to keep a value above the bound,
    which is exactly the large picture a worker needs again for its next point.  Failures are not cached."""

    def __init__(self, load):
        self._load = load
        self._items: OrderedDict[str, Original] = OrderedDict()
        self._bytes = self.hits = self.misses = 0
        self._lock = threading.Lock()
        functools.update_wrapper(self, load)

    def __call__(self, path: str) -> Original:
        with self._lock:
            if path in self._items:
                self._items.move_to_end(path)
                self.hits += 1
                return self._items[path]
        value = self._load(path)  # outside the lock: decoding a large picture takes seconds
        with self._lock:
            self.misses += 1
            if path not in self._items:
                self._items[path] = value
                self._bytes += value.rgb.nbytes
            self._items.move_to_end(path)
            while len(self._items) > 1 and (len(self._items) > CACHE_PICTURES or self._bytes > CACHE_BYTES):
                _, old = self._items.popitem(last=False)
                self._bytes -= old.rgb.nbytes
            return self._items[path]

    def cache_clear(self) -> None:
        with self._lock:
            self._items.clear()
            self._bytes = self.hits = self.misses = 0

    def cache_info(self) -> dict:
        with self._lock:
            return {"hits": self.hits, "misses": self.misses, "pictures": len(self._items), "bytes": self._bytes}


@_Originals
def load_original(path: str) -> Original:
    """The policy applied to one file.  Cached per process: a worker codes several points per image."""
    try:
        if _is_tiff(path) and not _pillow_opens(path):
            return _finish(path, *_tiff_only(path))
        with Image.open(path) as im:
            frames = getattr(im, "n_frames", 1)
            if frames > 1 and im.format != "TIFF":
                _refuse(path, f"it has {frames} frames (animated {im.format}); which one is the picture is a guess")
            orientation = orientation_of(im)
            if orientation not in range(1, 9):
                _refuse(path, f"EXIF orientation {orientation} is not one of 1..8: how it is displayed is unknown")
            a, notes = _samples(path, im)
            fmt = im.format
    except BenchError:
        raise
    except FileNotFoundError:
        raise BenchError(f"image not found: {path}") from None
    except Exception as exc:  # Pillow raises several types for damaged files
        raise BenchError(f"cannot read image {path}: {exc}") from None
    return _finish(path, a, notes, orientation, fmt)


def _is_tiff(path: str) -> bool:
    with open(path, "rb") as f:
        return f.read(4) in (b"II*\x00", b"MM\x00*")


def _pillow_opens(path: str) -> bool:
    try:
        with Image.open(path):
            return True
    except Exception:
        return False


def _tiff_only(path: str) -> tuple[np.ndarray, list[str], int, str]:
    """A TIFF that Pillow cannot open: samples and orientation from tifffile."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        tag = tif.pages[0].tags.get(274)
        orientation = int(tag.value) if tag is not None else 1
    if orientation not in range(1, 9):
        _refuse(path, f"TIFF orientation {orientation} is not one of 1..8: how it is displayed is unknown")
    return _tiff_samples(path), [], orientation, "TIFF"


def _finish(path: str, a: np.ndarray, notes: list[str], orientation: int, fmt: str) -> Original:
    """Orientation, alpha, bit depth and grey, in that order, on the file's own samples."""
    if orientation != 1:
        a = _orient(a, orientation)
        notes.append(f"EXIF orientation {orientation} applied ({ORIENTATION[orientation]}): measured as displayed")
    channels = a.shape[2]
    if channels not in (1, 2, 3, 4):
        _refuse(path, f"it has {channels} samples per pixel: not grey or RGB, with or without alpha")
    if channels in (2, 4):
        alpha, a = a[..., -1], a[..., :-1]
        top = 65535 if alpha.dtype == np.uint16 else 255
        n = int(np.count_nonzero(alpha != top))
        if n:
            _refuse(path, f"{n} of its {alpha.size} pixels are transparent or translucent (alpha < {top}); lic-bench "
                          "measures opaque RGB: composite it onto the background you mean and save RGB")
        notes.append("opaque alpha channel dropped")
    if a.dtype == np.uint16:
        a = _scale16(a)
        notes.append(f"16-bit samples ({fmt}) scaled to 8 bits, round(v * 255 / 65535)")
    elif a.dtype != np.uint8:
        _refuse(path, f"its samples are {a.dtype}")
    if a.shape[2] == 1:
        a = np.repeat(a, 3, axis=2)
        notes.append("grey picture expanded to RGB (R = G = B)")
    rgb = np.ascontiguousarray(a)
    rgb.setflags(write=False)
    return Original(rgb, "; ".join(notes))


def load_rgb(path: str) -> np.ndarray:
    """8-bit RGB (H, W, 3), read-only: the policy's picture (see load_original for what was done)."""
    return load_original(str(path)).rgb


@lru_cache(maxsize=4096)
def policy_token(path: str) -> str:
    """"" for a file the policy uses as stored (8-bit RGB, one frame, no orientation); else a token naming
    the policy revision and the file's kind.  It enters the unit key, so rows measured before the policy
    (or under an older revision of it) are redone rather than kept.  Reads the header only."""
    try:
        with Image.open(path) as im:
            mode, fmt, frames, orientation = im.mode, im.format, getattr(im, "n_frames", 1), orientation_of(im)
            keyed = "transparency" in im.info
            bits = _tiff_bits(im) if fmt == "TIFF" else (_pnm_maxval(im) if fmt in ("PPM", "PGM", "PNM") else 8)
            if fmt == "PNG":
                bits = (_png_header(path) or (8, 2))[0]
    except Exception:  # unreadable: its units fail with the reason anyway
        return ""
    if mode in ("RGB", "RGBX") and frames == 1 and orientation == 1 and bits in (8, 255) and not keyed:
        return ""
    return f"input-policy-{POLICY_REVISION}:{fmt}:{mode}:{bits}:{orientation}:{frames}:{int(keyed)}"
