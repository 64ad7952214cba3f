"""Codec adapters, found by name and imported only when used.

Heavy back-ends (torch models, external binaries' wrappers) cost nothing until a sweep asks for
them, as in lm-evaluation-harness's registry.  Every adapter implements `bench.codecs.base.Codec`.
"""

from __future__ import annotations

import importlib

from bench.errors import BenchError

# adapter name -> "module:Class"
REGISTRY = {
    "x265": "bench.codecs.x265:X265",
    "vvenc": "bench.codecs.vvenc:VVenC",
    "jpeg": "bench.codecs.jpeg:JPEG",
    "compressai": "bench.codecs.compressai_model:CompressAIModel",
    "webp": "bench.codecs.webp:WebP",
    "jpeg2000": "bench.codecs.jpeg2000:JPEG2000",
    "avif": "bench.codecs.avif:AVIF",
    "jpegxl": "bench.codecs.jpegxl:JPEGXL",
    "hm": "bench.codecs.reference_software:HM",
    "vtm": "bench.codecs.reference_software:VTM",
}


def adapter_class(name: str):
    try:
        target = REGISTRY[name]
    except KeyError:
        raise BenchError(f"unknown codec adapter {name!r}; known: {', '.join(sorted(REGISTRY))}") from None
    module, cls = target.split(":")
    return getattr(importlib.import_module(module), cls)


def make(name: str, threads: int = 1, **params):
    """An adapter instance; bad parameters raise BenchError with the known ones listed."""
    return adapter_class(name)(threads=threads, **params)
