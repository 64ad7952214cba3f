"""What a result needs to be reproduced: code version, package versions, host, encoder versions."""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from functools import lru_cache
from importlib import metadata
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parents[1]
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
    """HEAD commit, with '+dirty' when tracked files differ from it; 'unknown' outside a checkout."""
    try:
        rev = subprocess.run(["git", "rev-parse", "HEAD"], cwd=PROJECT_ROOT, capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=PROJECT_ROOT, capture_output=True, text=True).stdout.strip()
        return rev + ("+dirty" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def host() -> dict[str, str]:
    return {"host": platform.node(), "platform": platform.platform(), "cpus": str(os.cpu_count())}


def pip_freeze() -> str:
    proc = subprocess.run([sys.executable, "-m", "pip", "freeze"], capture_output=True, text=True)
    return proc.stdout
