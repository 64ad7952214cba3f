"""Files: content hashes, atomic writes that follow the umask, and stable hashes of configurations."""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path
from typing import Any

from bench.core.errors import BenchError

_UMASK: int | None = None
_UMASK_LOCK = threading.Lock()
_SHA_CACHE: dict[tuple, str] = {}


def umask() -> int:
    """The process umask (read once: os.umask can only be read by setting it)."""
    global _UMASK
    with _UMASK_LOCK:
        if _UMASK is None:
            _UMASK = os.umask(0o022)
            os.umask(_UMASK)
        return _UMASK


def sha256_file(path: str | os.PathLike) -> str:
    """Hex sha256 of a file's bytes.  Memoised per process on (path, inode, size, mtime): a rewritten
    file (a retrained checkpoint, a rebuilt binary) is hashed again, an unchanged one is not."""
    st = os.stat(path)
    key = (os.path.abspath(path), st.st_ino, st.st_size, st.st_mtime_ns)
    if key in _SHA_CACHE:
        return _SHA_CACHE[key]
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    _SHA_CACHE[key] = h.hexdigest()
    return _SHA_CACHE[key]


def config_hash(obj: Any) -> str:
    """16 hex digits of the sha256 of a JSON form with sorted keys: equal configurations, equal hash."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, default=str).encode()).hexdigest()[:16]


def atomic_write_bytes(path: str | os.PathLike, data: bytes) -> None:
    """Write via a unique temp file in the same folder and rename over `path`: readers see the old or
    the new file, never a part.  The file gets the umask's permissions (mkstemp alone gives 0600,
    which colleagues sharing a results folder cannot read)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.chmod(tmp, 0o666 & ~umask())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def require_writable(folder: str | os.PathLike) -> Path:
    """`folder`, created if needed, once a file could be written in it; else one BenchError line (a read-only
    or full results folder found before any unit runs, not as a traceback after the first one)."""
    folder = Path(folder)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".write-test.")
        os.close(fd)
        os.unlink(probe)
    except OSError as exc:
        raise BenchError(f"cannot write results in {folder}: {exc.strerror or exc}") from None
    return folder
