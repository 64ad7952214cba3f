"""Finding code by name: codec adapters, metrics and learned-model classes, built in or the user's.

A target is one of
  - a registered name: built in, or declared by an installed package under the registry's
    entry-point group (`lic_bench.codecs`, `lic_bench.metrics`, `lic_bench.models`);
  - an import path `package.module:Attr` (the module must be importable: installed, or on PYTHONPATH);
  - a file path `path/to/file.py:Attr` (relative to the current folder): the user's repository,
    without installing it.
Nothing is imported until a target is used (torch models and encoder wrappers cost nothing until a
sweep asks for them).  An unknown name is one error line with the closest known name and the list.
This follows lm-evaluation-harness's registry: lazy `module:attr` targets, a type check, suggestions.
"""

from __future__ import annotations

import difflib
import hashlib
import importlib
import importlib.util
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any, Callable, Mapping

from bench.core.errors import BenchError


def is_target(text: str) -> bool:
    """`module:Attr` or `file.py:Attr` (a plain registered name has no colon)."""
    return ":" in str(text)


def _load_file_module(path: Path):
    path = path.resolve()
    if not path.is_file():
        raise BenchError(f"plugin file not found: {path}")
    name = f"bench_plugin_{path.stem}_{hashlib.sha1(str(path).encode()).hexdigest()[:8]}"
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # before exec: dataclasses and pickling look the module up by name
    try:
        spec.loader.exec_module(module)
    except Exception:
        del sys.modules[name]
        raise
    return module


def load_module(ref: str, what: str = "plugin"):
    """A module by dotted name or by .py file path."""
    try:
        if ref.endswith(".py") or os.sep in ref:
            return _load_file_module(Path(os.path.expanduser(ref)))
        return importlib.import_module(ref)
    except BenchError:
        raise
    except ModuleNotFoundError as exc:
        raise BenchError(f"{what} {ref!r}: cannot import {exc.name!r} (install the package, or put its folder on "
                         f"PYTHONPATH, or give a file path like path/to/file.py:Name)") from None
    except Exception as exc:  # the user's module raised while importing: say which and why
        raise BenchError(f"{what} {ref!r}: importing it failed: {type(exc).__name__}: {exc}") from None


def load_target(target: str, what: str = "plugin") -> Any:
    """The object named by `module:Attr` or `file.py:Attr` (Attr may be dotted)."""
    ref, _, attr = str(target).rpartition(":")
    if not ref or not attr:
        raise BenchError(f"{what} {target!r}: expected 'package.module:Name' or 'path/to/file.py:Name'")
    obj = load_module(ref, what)
    for part in attr.split("."):
        try:
            obj = getattr(obj, part)
        except AttributeError:
            raise BenchError(f"{what} {target!r}: {ref} has no attribute {attr!r}") from None
    return obj


def suggestion(name: str, known) -> str:
    close = difflib.get_close_matches(str(name), list(known), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


class Registry:
    """Names -> targets: the built-in table plus installed plugins' entry points, loaded lazily.

    `validate(obj, target)` raises BenchError when the loaded object is not of the right kind (e.g. not a
    `Codec` subclass); it runs for every load, built in or not."""

    def __init__(self, what: str, builtins: Mapping[str, str], group: str,
                 validate: Callable[[Any, str], None] | None = None):
        self.what, self.builtins, self.group, self.validate = what, dict(builtins), group, validate
        self._cache: dict[str, Any] = {}

    def entry_points(self) -> dict[str, str]:
        """Installed plugins: {name: 'module:Attr'} of the group; a name already built in is not replaced."""
        try:
            eps = metadata.entry_points(group=self.group)
        except Exception:  # a broken distribution's metadata must not stop the harness
            return {}
        return {ep.name: ep.value for ep in eps if ep.name not in self.builtins}

    def known(self) -> dict[str, str]:
        return {**self.builtins, **self.entry_points()}

    def names(self) -> list[str]:
        return sorted(self.known())

    def target(self, name: str) -> str:
        if is_target(name):
            return str(name)
        known = self.known()
        if name not in known:
            raise BenchError(f"unknown {self.what} {name!r}{suggestion(name, known)} known: {', '.join(sorted(known))}; "
                             f"or give an import path 'package.module:Name' / 'path/to/file.py:Name'")
        return known[name]

    def load(self, name: str) -> Any:
        target = self.target(name)
        if target not in self._cache:
            obj = load_target(target, self.what)
            if self.validate is not None:
                self.validate(obj, target)
            self._cache[target] = obj
        return self._cache[target]
