"""Codec adapters: the public plugin API and the registry that finds adapters by name.

The stable API for your own adapter (README "Benchmark your own codec"):

    from bench.codecs import Codec, Encoded, Decoded, clock, run_process, join

A codec config's `adapter:` is a registered name (built in, or an installed package's entry point in
the `lic_bench.codecs` group), an import path `package.module:Class`, or `path/to/file.py:Class`.
Nothing is imported until used; the class must subclass `Codec`; an unknown name lists the known
ones and suggests the closest.
"""

from __future__ import annotations

from bench.codecs.base import Codec, Decoded, Encoded, join, run_process
from bench.core.errors import BenchError
from bench.core.plugins import Registry
from bench.core.timing import Timing, clock

# adapter name -> "module:Class" (imported only when used)
BUILTIN = {
    "identity": "bench.codecs.identity:Identity",
    "x265": "bench.codecs.x265:X265",
    "vvenc": "bench.codecs.vvenc:VVenC",
    "jpeg": "bench.codecs.jpeg:JPEG",
    "webp": "bench.codecs.webp:WebP",
    "jpeg2000": "bench.codecs.jpeg2000:JPEG2000",
    "avif": "bench.codecs.avif:AVIF",
    "jpegxl": "bench.codecs.jpegxl:JPEGXL",
    "hm": "bench.codecs.reference_software:HM",
    "vtm": "bench.codecs.reference_software:VTM",
    "compressai": "bench.codecs.learned.adapter:CompressAIModel",
    "compressai_vbr": "bench.codecs.learned.vbr:CompressAIVbr",
}
ENTRY_POINT_GROUP = "lic_bench.codecs"


def _is_codec(obj, target: str) -> None:
    if not (isinstance(obj, type) and issubclass(obj, Codec)):
        raise BenchError(f"codec adapter {target!r} is {obj!r}, not a subclass of bench.codecs.Codec")
    if getattr(obj, "__abstractmethods__", None):
        raise BenchError(f"codec adapter {target!r} does not implement {', '.join(sorted(obj.__abstractmethods__))}")


registry = Registry("codec adapter", BUILTIN, ENTRY_POINT_GROUP, _is_codec)


def adapter_class(name: str) -> type[Codec]:
    return registry.load(name)


def make(name: str, threads: int = 1, **params) -> Codec:
    """An adapter instance; bad parameters raise BenchError with the known ones listed."""
    return adapter_class(name)(threads=threads, **params)


def names() -> list[str]:
    return registry.names()


__all__ = ["Codec", "Encoded", "Decoded", "Timing", "clock", "run_process", "join", "BUILTIN", "ENTRY_POINT_GROUP",
           "registry", "adapter_class", "make", "names"]
