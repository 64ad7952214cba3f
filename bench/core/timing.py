"""Timing a block of codec or metric work: wall clock and CPU seconds, children included."""

from __future__ import annotations

import resource
import time
from dataclasses import dataclass


@dataclass
class Timing:
    """Wall and CPU seconds of the codec work alone (the process, or the library call)."""

    wall: float = 0.0
    cpu: float = 0.0

    def __iadd__(self, other: "Timing") -> "Timing":
        self.wall += other.wall
        self.cpu += other.cpu
        return self


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
