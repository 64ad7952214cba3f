"""What a result needs to be reproduced: code version, package versions, host, encoder versions."""

from __future__ import annotations

import hashlib
import importlib
import importlib.util
import os
import platform
import re
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

SOURCE_ROOT = Path(__file__).resolve().parents[2]  # the checkout, when running from one
PACKAGES = ["bench", "numpy", "pillow", "torch", "pytorch-msssim", "imageio-ffmpeg", "pandas", "hydra-core", "scikit-image", "compressai"]


@lru_cache(maxsize=1)
def package_versions() -> dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version("lic-bench" if name == "bench" else name)
        except metadata.PackageNotFoundError:
            continue
    return out


@lru_cache(maxsize=1)
def git_revision() -> str:
    """HEAD commit of lic-bench's own checkout, with '+dirty' when tracked files differ from it.

    Installed from a wheel there is no checkout: 'lic-bench <version> (installed)'.  The checkout must be
    ours (its top level holds this package and our pyproject.toml): a wheel installed in a venv inside
    the user's repository must not report the user's commit."""
    try:
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], cwd=SOURCE_ROOT, capture_output=True, text=True,
                             check=True).stdout.strip()
        pyproject = Path(top) / "pyproject.toml"
        if Path(top).resolve() != SOURCE_ROOT or not pyproject.is_file() or 'name = "lic-bench"' not in pyproject.read_text():
            raise OSError("not lic-bench's checkout")
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=SOURCE_ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=SOURCE_ROOT, capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        from bench import __version__

        return f"lic-bench {__version__} (installed)"


def host() -> dict[str, str]:
    return {"host": platform.node(), "platform": platform.platform(), "cpus": str(os.cpu_count())}


@lru_cache(maxsize=1)
def environment_digest() -> str:
    """A digest of which distributions are installed, at which versions: the names of the *.dist-info
    and *.egg-info entries (name-version) of every folder on sys.path.  A directory listing, no
    metadata parsing (that takes ~0.3 s for a hundred distributions): it decides when the environment
    is new and `pip freeze` worth running again."""
    names = []
    for entry in sys.path:
        try:
            names += [e.name for e in os.scandir(entry or ".") if e.name.endswith((".dist-info", ".egg-info"))]
        except OSError:
            continue
    return hashlib.sha256("\n".join(sorted(set(names))).encode()).hexdigest()[:16]


def module_version(name: str) -> str:
    """`<name>.__version__` without importing the package when it keeps it in <name>/version.py (torch
    takes seconds to import; its version.py holds '2.14.1+cu130' where the distribution says
    '2.14.1'); otherwise the package is imported."""
    spec = importlib.util.find_spec(name)
    for folder in (spec.submodule_search_locations or []) if spec else []:
        path = Path(folder) / "version.py"
        if path.is_file():
            m = re.search(r"^__version__\s*=\s*[\"']([^\"']+)[\"']", path.read_text(), re.M)
            if m:
                return m.group(1)
    return str(importlib.import_module(name).__version__)


def pip_freeze() -> str:
    proc = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True)
    return proc.stdout
