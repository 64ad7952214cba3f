"""Generators for the edge-case battery (tests/test_edge_*.py): odd pictures written byte by byte,
hostile checkpoints, and a codec adapter that misbehaves on purpose (fault injection).

Every file is made in the test from a seed, so the battery needs no data beside the project.
"""

from __future__ import annotations

import io
import os
import signal
import struct
import time
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from bench.codecs.base import run_process
from bench.codecs.identity import Identity

FAULTS = Path(__file__).resolve()  # `codec.adapter=<this file>:Faulty`


# ------------------------------------------------------------------------------------------ pictures


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """8-bit RGB with photo-like texture (a crop of a bundled photo, shifted by the seed)."""
    from skimage import data

    src = data.astronaut()
    y, x = 20 + 7 * seed, 30 + 11 * seed
    return np.ascontiguousarray(src[y : y + h, x : x + w])


def png16(path: Path, samples: np.ndarray) -> Path:
    """A 16-bit PNG written by hand (Pillow cannot write 16-bit colour): (H, W) grey, (H, W, 2) grey +
    alpha, (H, W, 3) RGB or (H, W, 4) RGBA uint16 samples, stored exactly."""
    a = np.asarray(samples, dtype=np.uint16)
    h, w = a.shape[:2]
    channels = 1 if a.ndim == 2 else a.shape[2]
    colour_type = {1: 0, 2: 4, 3: 2, 4: 6}[channels]
    raw = b"".join(b"\x00" + a[y].astype(">u2").tobytes() for y in range(h))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", w, h, 16, colour_type, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    return path


def ramp16(h: int = 40, w: int = 56, channels: int = 3, seed: int = 0) -> np.ndarray:
    """16-bit samples spanning the whole range, with values that truncation and rounding map apart."""
    rng = np.random.default_rng(seed)
    base = photo(h, w, seed).astype(np.uint32) * 257 + rng.integers(0, 257, (h, w, 3))
    a = np.clip(base, 0, 65535).astype(np.uint16)
    if channels == 1:
        return a[..., 1]
    if channels == 2:
        return np.stack([a[..., 1], np.full((h, w), 65535, np.uint16)], axis=-1)
    if channels == 4:
        return np.concatenate([a, np.full((h, w, 1), 65535, np.uint16)], axis=-1)
    return a


def scaled(a16: np.ndarray) -> np.ndarray:
    """The policy's 16 -> 8 bits, computed the obvious way (float, round half up) to check the integer one."""
    return np.floor(a16.astype(np.float64) * 255.0 / 65535.0 + 0.5).astype(np.uint8)


def with_exif_orientation(path: Path, rgb: np.ndarray, orientation: int) -> Path:
    """A JPEG (quality 100) carrying an EXIF orientation tag."""
    exif = Image.Exif()
    exif[0x0112] = orientation
    Image.fromarray(rgb).save(path, "JPEG", quality=100, exif=exif.tobytes())
    return path


def gif_two_frames(path: Path) -> Path:
    frames = [Image.fromarray(photo(32, 32, s)).convert("P") for s in (0, 1)]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0)
    return path


# --------------------------------------------------------------------------------------- checkpoints


def hostile_checkpoint(path: Path, part: str, how: str) -> Path:
    """The demo hyperprior's weights (float32) with one part spoiled: part 'g_a' (encoder) or 'g_s'
    (decoder); how 'nan', 'inf' (refused at load) or 'overflow' (finite x 1e38: activations overflow
    to inf; the encoder side then spins forever in CompressAI's C++ entropy coder)."""
    import torch

    from bench.core.assets import codecs_dir

    src = next((codecs_dir() / "demo").glob("*lambda0.013.pth.tar"))
    obj = torch.load(src, map_location="cpu", weights_only=True)
    state = {k: (v.float() if v.is_floating_point() else v) for k, v in obj["state_dict"].items()}
    target = f"{part}.0.weight"
    w = state[target].clone()
    if how == "nan":
        w.view(-1)[0] = float("nan")
    elif how == "inf":
        w.view(-1)[0] = float("inf")
    elif how == "overflow":
        w = w * 1e38
    else:
        raise ValueError(how)
    state[target] = w
    torch.save({**obj, "state_dict": state}, path)
    return path


# ---------------------------------------------------------------------------------- fault injection


class Faulty(Identity):
    """The identity codec, except at the point `on_point`: `fault` = sleep (a Python wait), hang (stuck
    with SIGTERM blocked, as C code that never returns to Python is), spin (a busy C-level loop: numpy
    on a huge array repeatedly), kill (SIGKILL to its own worker, as the out-of-memory killer sends),
    subprocess (an external encoder that never ends), raise (an ordinary error)."""

    @classmethod
    def defaults(cls):
        return {"fault": "none", "on_point": -1, "seconds": 600}

    def encode(self, rgb, point, workdir):
        if int(point) == int(self.params["on_point"]):
            fault, seconds = self.params["fault"], float(self.params["seconds"])
            if fault == "sleep":
                time.sleep(seconds)
            elif fault == "hang":
                signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGTERM, signal.SIGINT})
                time.sleep(seconds)
            elif fault == "kill":
                os.kill(os.getpid(), signal.SIGKILL)
            elif fault == "subprocess":
                run_process(["sleep", str(int(seconds))], what="a stuck encoder")
            elif fault == "raise":
                raise RuntimeError("injected encoder failure")
        return super().encode(rgb, point, workdir)


def jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(rgb).save(buf, "JPEG", quality=quality)
    return buf.getvalue()
