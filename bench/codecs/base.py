"""The small interface every codec adapter implements.

An adapter turns an 8-bit RGB picture into a bitstream *file* and that file back into 8-bit RGB.
The harness counts the file's bytes (the rate), runs the decoder as its own step on that file, and
computes every metric itself, so no adapter can report a rate or a distortion of its own.

To add a codec: one module with a `Codec` subclass (in this package, or in your own repository) and
one YAML file (`conf/codec/` here, or your own config folder) whose `adapter:` names it: a registered
name, an import path `package.module:Class`, or `path/to/file.py:Class`.  See `identity.py`, the
smallest complete adapter, and README "Benchmark your own codec".
"""

from __future__ import annotations

import abc
import os
import re
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.core.errors import BenchError
from bench.core.timing import Timing, clock  # noqa: F401  (part of the adapter API)


@dataclass
class Encoded:
    """A bitstream on disk plus what its decoder needs to know (never the picture itself)."""

    path: Path
    command: str  # the exact encoder command line, or the library call, as recorded in the row
    timing: Timing
    meta: dict[str, Any] = field(default_factory=dict)  # e.g. coded size, original size
    log: str = ""  # the encoder's own report, kept for checks like "I-picture QP == requested"
    extra: dict[str, Any] = field(default_factory=dict)  # adapter-specific row columns (e.g. estimated bpp)


@dataclass
class Decoded:
    rgb: np.ndarray
    command: str
    timing: Timing
    extra: dict[str, Any] = field(default_factory=dict)  # adapter-specific row columns (e.g. decode check)


_DEADLINE: list[float | None] = [None]  # perf_counter() time by which the current unit must end (set by the sweep)
_ENCODER_LINE = re.compile(r"^\[(lib\w+|\w+enc\w*) @ 0x[0-9a-f]+\] (.+)$|^(\w+) \[error\]: (.+)$", re.I)


class CodecProcessError(RuntimeError):
    """A codec process that exited non-zero; `reason` is its own words (or the last lines of its stderr)."""

    def __init__(self, message: str, reason: str = ""):
        super().__init__(message)
        self.reason = reason or message


def set_deadline(deadline: float | None) -> None:
    """The end of the current unit's time limit (time.perf_counter() clock); None = no limit.  Every codec
    process started by run_process is killed when it runs past it, so a hung encoder ends as a failed row."""
    _DEADLINE[0] = deadline


def encoder_reason(stderr: str) -> str:
    """The codec's own words from a failed run: ffmpeg logs the reason of an encoder that refuses to open
    (`[libx265 @ 0x..] Image size is too small (768x8).`, `x265 [error]: ...`) long before its generic last
    line ("Nothing was written into output file", "Conversion failed!").  "" when there is none."""
    for line in stderr.splitlines():
        m = _ENCODER_LINE.match(line.strip())
        if m:
            text = (m.group(2) or m.group(4) or "").strip()
            if text and not text.startswith("[") and not text.lower().startswith(("using cpu", "build info", "hevc encoder version")):
                return text
    return ""


def run_process(cmd: list[str], stdin: bytes | None = None, what: str = "") -> tuple[bytes, str, Timing]:
    """Run one codec process; return (stdout, stderr, timing).  A failure raises with the codec's own
    reason (see encoder_reason) and the last lines of its stderr; a process still running at the unit's
    deadline (set_deadline) is killed and raises."""
    name = what or os.path.basename(cmd[0])
    deadline = _DEADLINE[0]
    timeout = None if deadline is None else max(0.01, deadline - time.perf_counter())
    with clock() as c:
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False, timeout=timeout)
        except FileNotFoundError:
            raise BenchError(f"{name}: executable not found: {cmd[0]}") from None
        except subprocess.TimeoutExpired:
            raise TimeoutError(f"{name} was still running at the unit's time limit (unit_timeout) and was killed") from None
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        reason = encoder_reason(err) or " | ".join(err.strip().splitlines()[-3:])
        raise CodecProcessError(f"{name} exited {proc.returncode}: {reason}", reason)
    return proc.stdout, err, c.timing


def join(cmd: list[str]) -> str:
    return shlex.join(str(c) for c in cmd)


class Codec(abc.ABC):
    """Base class of the adapters.

    Class attributes an adapter sets:
      point_name   what a rate point is for this codec ("qp", "quality", "distance", ...)
      point_type   int or float: a point of another type is refused before any unit runs
      point_range  (low, high), inclusive; None = unbounded on that side
      revision     bump when the adapter's own code changes the bitstream: cached rows are redone
      path_params  parameters that name files (checkpoints, binaries, cfg): their *content* identifies
                   the configuration through `files()`, so they are left out of the parameter hash
    """

    point_name: ClassVar[str] = "point"
    point_type: ClassVar[type] = float
    point_range: ClassVar[tuple] = (None, None)
    revision: ClassVar[int] = 1
    path_params: ClassVar[tuple[str, ...]] = ()

    def __init__(self, threads: int = 1, **params: Any):
        self.threads = int(threads)
        unknown = set(params) - set(self.defaults())
        if unknown:
            raise BenchError(
                f"{type(self).__name__}: unknown parameter(s) {sorted(unknown)}; known: {sorted(self.defaults())}"
            )
        self.params = {**self.defaults(), **params}

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        """Every parameter the adapter accepts, with its default.  Unknown keys are an error."""
        return {}

    @classmethod
    def describe(cls) -> str:
        """One line for `bench ls`: the first line of the class (or module) docstring."""
        import sys

        doc = cls.__doc__ or getattr(sys.modules.get(cls.__module__), "__doc__", "") or ""
        return doc.strip().splitlines()[0] if doc.strip() else ""

    def check_point(self, point: Any) -> Any:
        """The rate point as it will be coded, or BenchError when the codec cannot code it (checked for
        every point before any unit runs: a point is never silently rounded or clipped)."""
        lo, hi = self.point_range
        name = f"{type(self).__name__} {self.point_name}"
        if isinstance(point, bool) or not isinstance(point, (int, float)):
            raise BenchError(f"{name} must be a number, not {point!r}")
        if point != point or point in (float("inf"), float("-inf")):
            raise BenchError(f"{name} must be finite, not {point!r}")
        if self.point_type is int:
            if float(point) != int(point):
                raise BenchError(f"{name} must be an integer, not {point!r} (it would be coded as {int(point)})")
            point = int(point)
        if (lo is not None and point < lo) or (hi is not None and point > hi):
            raise BenchError(f"{name} {point!r} is out of range [{'-inf' if lo is None else lo}, {'inf' if hi is None else hi}]")
        return point

    def files(self, point: Any = None) -> dict[str, str]:
        """Files whose content decides the bytes or pixels: {label: path}.  point=None: files shared by
        every point (encoder and decoder binaries, cfg); a point: files of that point only (its
        checkpoint).  The harness hashes them into the unit's identity, so a rebuilt binary or an
        overwritten checkpoint recomputes exactly the rows it affects."""
        return {}

    def identity_params(self) -> dict[str, Any]:
        """Parameters as they enter the configuration hash: all but the file locations (path_params)."""
        return {k: v for k, v in self.params.items() if k not in self.path_params}

    @abc.abstractmethod
    def version(self) -> str:
        """Encoder name and version, recorded in every row and part of the cache key."""

    def check(self) -> None:
        """Raise CodecUnavailable (one clear line) when the encoder or decoder is not usable here."""

    @abc.abstractmethod
    def colour(self) -> dict[str, Any]:
        """The colour pipeline of this codec, as row columns (colour_matrix, colour_range, ...)."""

    @abc.abstractmethod
    def encode(self, rgb: np.ndarray, point: Any, workdir: Path) -> Encoded:
        """Write a bitstream for `rgb` at rate point `point` into `workdir`."""

    @abc.abstractmethod
    def decode(self, enc: Encoded, workdir: Path) -> Decoded:
        """Decode `enc.path` in a separate run and return 8-bit RGB of the original size."""
