"""RGB <-> Y'CbCr conversion done in numpy, with every choice explicit and recorded.

Why not ffmpeg's swscale: its RGB->YUV default is an implicit BT.601 limited-range matrix, its full
range path is not exact even at 10 bits, and a tag written as an output option inserts a second
conversion (FIELD-NOTES, "Colour").  Doing the conversion here keeps one place that rounds (never
truncates), states matrix/range/bit depth/chroma siting, and can be proven exact: 8-bit RGB ->
10-bit 4:4:4 limited range -> 8-bit RGB returns the same pixels.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

# Luma coefficients (Kr, Kb) of the matrices a user may ask for.
MATRICES = {"bt709": (0.2126, 0.0722), "bt601": (0.299, 0.114), "bt2020": (0.2627, 0.0593)}


@dataclass(frozen=True)
class ColourSpec:
    """How the RGB picture is turned into the samples a codec codes.  Recorded in every row."""

    matrix: str = "bt709"  # bt709 | bt601 | bt2020 | rgb (no matrix: codec sees R, G, B or its own)
    range: str = "limited"  # limited | full
    chroma: str = "444"  # 444 | 420
    bit_depth: int = 10
    # Chroma sample position for 4:2:0: "center" (MPEG-1/JPEG style, type 1).  Down-sampling is a 2x2
    # mean and up-sampling a [1, 3]/4 linear filter matched to that position.
    siting: str = "center"

    def __post_init__(self):
        if self.matrix not in MATRICES and self.matrix != "rgb":
            raise ValueError(f"unknown colour matrix {self.matrix!r}; choose from {sorted(MATRICES)}")
        if self.range not in ("limited", "full"):
            raise ValueError(f"unknown range {self.range!r}; choose limited or full")
        if self.chroma not in ("444", "420"):
            raise ValueError(f"unknown chroma format {self.chroma!r}; choose 444 or 420")
        if not 8 <= int(self.bit_depth) <= 16:
            raise ValueError(f"bit depth {self.bit_depth} out of range 8..16")

    def record(self) -> dict:
        return {f"colour_{k}": v for k, v in asdict(self).items()}


# Rows of output pictures converted at once: the float64 temporaries of a strip stay a few MB whatever
# the picture size (a 12000x8000 picture converted whole needed ~100 bytes per pixel).  Each image row
# is one matrix product either way (numpy multiplies a stack of rows row by row), so the planes are
# bit-identical to a whole-picture conversion.
STRIP_ROWS = 64


def ycbcr_matrix(name: str) -> np.ndarray:
    """Rows Y', Cb, Cr of the named matrix, applied to R', G', B' in [0, 1] (Cb, Cr in [-0.5, 0.5])."""
    return _matrix(name)


def _matrix(name: str) -> np.ndarray:
    kr, kb = MATRICES[name]
    kg = 1.0 - kr - kb
    # Rows: Y', Cb, Cr from R', G', B' in [0, 1]; Cb and Cr in [-0.5, 0.5].
    return np.array(
        [
            [kr, kg, kb],
            [-0.5 * kr / (1 - kb), -0.5 * kg / (1 - kb), 0.5],
            [0.5, -0.5 * kg / (1 - kr), -0.5 * kb / (1 - kr)],
        ]
    )


def _scale(spec: ColourSpec):
    """(offset, gain) per plane mapping Y' in [0,1] and C in [-0.5,0.5] to integer code values."""
    n = int(spec.bit_depth)
    if spec.range == "limited":
        s = 2.0 ** (n - 8)
        return np.array([16 * s, 128 * s, 128 * s]), np.array([219 * s, 224 * s, 224 * s])
    peak = 2.0**n - 1
    return np.array([0.0, 2.0 ** (n - 1), 2.0 ** (n - 1)]), np.array([peak, peak, peak])


def _round_clip(x: np.ndarray, peak: int, dtype) -> np.ndarray:
    # floor(x + 0.5): round half up, the same on every platform; never astype() truncation.
    return np.clip(np.floor(x + 0.5), 0, peak).astype(dtype)


def rgb_to_ycbcr_float(rgb: np.ndarray, matrix: str = "bt709") -> np.ndarray:
    """8-bit RGB (H, W, 3) -> float Y'CbCr with Y' in [0, 255] and Cb, Cr centred on 128 (metrics)."""
    ycc = (rgb.astype(np.float64) / 255.0) @ _matrix(matrix).T
    ycc *= 255.0
    ycc[..., 1:] += 128.0
    return ycc


def pad_even(rgb: np.ndarray) -> np.ndarray:
    """Edge-replicate to even width and height (4:2:0 encoders reject odd sizes)."""
    h, w = rgb.shape[:2]
    return np.pad(rgb, ((0, h % 2), (0, w % 2), (0, 0)), mode="edge")


def _down2(c: np.ndarray) -> np.ndarray:
    return 0.25 * (c[0::2, 0::2] + c[1::2, 0::2] + c[0::2, 1::2] + c[1::2, 1::2])


def _up2_axis(c: np.ndarray, axis: int) -> np.ndarray:
    # Centre-sited chroma: luma 2k sees 3/4 c[k] + 1/4 c[k-1], luma 2k+1 sees 3/4 c[k] + 1/4 c[k+1].
    prev = np.concatenate([np.take(c, [0], axis), np.take(c, range(c.shape[axis] - 1), axis)], axis)
    nxt = np.concatenate([np.take(c, range(1, c.shape[axis]), axis), np.take(c, [-1], axis)], axis)
    even = 0.75 * c + 0.25 * prev
    odd = 0.75 * c + 0.25 * nxt
    out = np.stack([even, odd], axis=axis + 1)
    shape = list(c.shape)
    shape[axis] *= 2
    return out.reshape(shape)


def rgb_to_planes(rgb: np.ndarray, spec: ColourSpec) -> list[np.ndarray]:
    """8-bit RGB (H, W, 3) -> [Y, Cb, Cr] integer planes (uint16), 4:2:0 planes half size.

    The caller pads odd sizes first (`pad_even`) when spec.chroma == "420".  Converted in strips of
    rows (STRIP_ROWS) so that the float temporaries stay small.
    """
    if spec.matrix == "rgb":
        raise ValueError("matrix 'rgb' codes R, G, B directly; there are no Y'CbCr planes")
    h, w = rgb.shape[:2]
    sub = spec.chroma == "420"
    if sub and (h % 2 or w % 2):
        raise ValueError("4:2:0 needs even width and height: pad_even() first")
    peak = 2 ** int(spec.bit_depth) - 1
    m = _matrix(spec.matrix).T
    offset, gain = _scale(spec)
    ch, cw = (h // 2, w // 2) if sub else (h, w)
    planes = [np.empty((h, w), np.uint16), np.empty((ch, cw), np.uint16), np.empty((ch, cw), np.uint16)]
    for r0 in range(0, h, STRIP_ROWS):  # STRIP_ROWS is even: a 4:2:0 strip holds whole chroma rows
        r1 = min(h, r0 + STRIP_ROWS)
        ycc = (rgb[r0:r1].astype(np.float64) / 255.0) @ m
        y = ycc[..., 0] * gain[0] + offset[0]
        cb, cr = ycc[..., 1], ycc[..., 2]
        c0, c1 = r0, r1
        if sub:
            cb, cr = _down2(cb), _down2(cr)
            c0, c1 = r0 // 2, r1 // 2
        cb = cb * gain[1] + offset[1]
        cr = cr * gain[2] + offset[2]
        planes[0][r0:r1] = _round_clip(y, peak, np.uint16)
        planes[1][c0:c1] = _round_clip(cb, peak, np.uint16)
        planes[2][c0:c1] = _round_clip(cr, peak, np.uint16)
    return planes


def planes_to_rgb(planes: list[np.ndarray], spec: ColourSpec) -> np.ndarray:
    """[Y, Cb, Cr] integer planes -> 8-bit RGB (H, W, 3), rounded and clipped; in strips of rows."""
    offset, gain = _scale(spec)
    inv = np.linalg.inv(_matrix(spec.matrix)).T
    h, w = planes[0].shape
    sub = spec.chroma == "420"
    out = np.empty((h, w, 3), np.uint8)
    for r0 in range(0, h, STRIP_ROWS):
        r1 = min(h, r0 + STRIP_ROWS)
        y = (planes[0][r0:r1].astype(np.float64) - offset[0]) / gain[0]
        if sub:
            # chroma rows of this strip plus one neighbour each side (the [1, 3]/4 filter reads them);
            # the edge rows of the block are clamped exactly as a whole-plane up-sampling clamps them
            c0, c1 = r0 // 2, (r1 + 1) // 2
            b0, b1 = max(0, c0 - 1), min(planes[1].shape[0], c1 + 1)
            cb = (planes[1][b0:b1].astype(np.float64) - offset[1]) / gain[1]
            cr = (planes[2][b0:b1].astype(np.float64) - offset[2]) / gain[2]
            lo = 2 * (c0 - b0)
            cb = _up2_axis(_up2_axis(cb, 0)[lo:lo + (r1 - r0)], 1)
            cr = _up2_axis(_up2_axis(cr, 0)[lo:lo + (r1 - r0)], 1)
        else:
            cb = (planes[1][r0:r1].astype(np.float64) - offset[1]) / gain[1]
            cr = (planes[2][r0:r1].astype(np.float64) - offset[2]) / gain[2]
        ycc = np.stack([y, cb, cr], axis=-1)
        out[r0:r1] = _round_clip((ycc @ inv) * 255.0, 255, np.uint8)
    return out


def planes_to_bytes(planes: list[np.ndarray]) -> bytearray:
    """Planar little-endian 16-bit samples (ffmpeg's yuv4xxp10le), whatever the planes' dtype: one
    buffer filled in place (joining per-plane copies held the samples three times)."""
    buf = bytearray(2 * sum(p.size for p in planes))
    view = np.frombuffer(buf, dtype="<u2")
    pos = 0
    for p in planes:
        view[pos:pos + p.size].reshape(p.shape)[...] = p
        pos += p.size
    return buf


def bytes_to_planes(buf: bytes, width: int, height: int, spec: ColourSpec) -> list[np.ndarray]:
    cw, ch = (width, height) if spec.chroma == "444" else (width // 2, height // 2)
    sizes = [(height, width), (ch, cw), (ch, cw)]
    need = sum(h * w for h, w in sizes) * 2
    if len(buf) != need:
        raise ValueError(f"decoder returned {len(buf)} bytes, expected {need} for {width}x{height} {spec.chroma}")
    data = np.frombuffer(buf, dtype="<u2")
    out, pos = [], 0
    for h, w in sizes:
        out.append(data[pos : pos + h * w].reshape(h, w))
        pos += h * w
    return out
