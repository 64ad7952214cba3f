"""The small interface every codec adapter implements.

An adapter turns an 8-bit RGB picture into a bitstream *file* and that file back into 8-bit RGB.
The harness counts the file's bytes (the rate), runs the decoder as its own step on that file, and
computes every metric itself, so no adapter can report a rate or a distortion of its own.

To add a codec: one module in this package with a `Codec` subclass, one entry in
`bench.codecs.REGISTRY`, one YAML file in `conf/codec/`.
"""

from __future__ import annotations

import abc
import os
import resource
import shlex
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from bench.errors import BenchError


@dataclass
class Timing:
    """Wall and CPU seconds of the codec work alone (the process, or the library call)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __iadd__(self, other: "Timing") -> "Timing":
        self.wall += other.wall
        self.cpu += other.cpu
        return self


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


class _Clock:
    """Times a block: wall clock, plus CPU of this process and of children that ended inside it."""

    def __enter__(self):
        self._w = time.perf_counter()
        self._c = time.process_time()
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        self._ch = ch.ru_utime + ch.ru_stime
        return self

    def __exit__(self, *exc):
        ch = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.timing = Timing(
            wall=time.perf_counter() - self._w,
            cpu=time.process_time() - self._c + (ch.ru_utime + ch.ru_stime - self._ch),
        )
        return False


def clock() -> _Clock:
    return _Clock()


def run_process(cmd: list[str], stdin: bytes | None = None, what: str = "") -> tuple[bytes, str, Timing]:
    """Run one codec process; return (stdout, stderr, timing).  A failure raises with its stderr."""
    with clock() as c:
        try:
            proc = subprocess.run(cmd, input=stdin, capture_output=True, check=False)
        except FileNotFoundError:
            raise BenchError(f"{what or cmd[0]}: executable not found: {cmd[0]}") from None
    err = proc.stderr.decode("utf-8", "replace")
    if proc.returncode != 0:
        tail = " | ".join(err.strip().splitlines()[-3:])
        raise RuntimeError(f"{what or os.path.basename(cmd[0])} exited {proc.returncode}: {tail}")
    return proc.stdout, err, c.timing


def join(cmd: list[str]) -> str:
    return shlex.join(str(c) for c in cmd)


class Codec(abc.ABC):
    """Base class of the adapters.

    Class attributes an adapter sets:
      point_name  what a rate point is for this codec ("qp", "quality", "distance", ...)
      revision    bump when the adapter's own code changes the bitstream: cached rows are redone
    """

    point_name: ClassVar[str] = "point"
    revision: ClassVar[int] = 1

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
